import Tensors

/// torch.nn.Linear with its weights loaded; an f16/bf16 weight stays half-size in memory.
public struct Linear: Sendable {
    /// The weight as the checkpoint stores it.
    public let storedWeight: WeightTensor
    public let bias: Tensor?

    // weight: [out, in], bias: [out]
    public init(_ parameters: Parameters, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        storedWeight = try parameters.weight("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try parameters.tensor("bias", shape: [outFeatures]) : nil
    }

    // x: [..., in] -> [..., out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        linear(x, weight: storedWeight, bias: bias)
    }

    /// `self(x) + residual`, summed where the product accumulates.
    // x: [..., in], residual: [..., out] -> [..., out]
    public func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor {
        linear(x, weight: storedWeight, bias: bias, adding: residual)
    }
}
