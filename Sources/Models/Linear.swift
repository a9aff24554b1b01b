import Tensors

/// torch.nn.Linear with its weights loaded.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?

    // weight: [out, in], bias: [out]
    public init(_ parameters: Parameters, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try parameters.tensor("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try parameters.tensor("bias", shape: [outFeatures]) : nil
    }

    // x: [..., in] -> [..., out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        linear(x, weight: weight, bias: bias)
    }
}
