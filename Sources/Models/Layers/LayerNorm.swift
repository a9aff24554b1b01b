import Tensors

/// torch.nn.LayerNorm over the last axis, with its weight and bias.
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    // weight, bias: [width]
    public init(_ parameters: Parameters, width: Int, eps: Float = 1e-5) throws {
        weight = try parameters.tensor("weight", shape: [width])
        bias = try parameters.tensor("bias", shape: [width])
        self.eps = eps
    }

    // x: [..., width] -> [..., width]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}
