import Tensors

/// torch.nn.GroupNorm (affine) with its weights loaded.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let eps: Float
    public let weight: Tensor
    public let bias: Tensor

    // weight, bias: [channels]
    public init(_ parameters: Parameters, groups: Int, channels: Int, eps: Float) throws {
        self.groups = groups
        self.eps = eps
        weight = try parameters.tensor("weight", shape: [channels])
        bias = try parameters.tensor("bias", shape: [channels])
    }

    /// `fusedSiLU` applies SiLU in the same pass, as the ResNet blocks do right after the norm.
    // x: [N, C, ...] -> same shape
    public func callAsFunction(_ x: consuming Tensor, fusedSiLU: Bool = false) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, fusedSiLU: fusedSiLU)
    }

    /// The norm (and SiLU) as a per-channel map of `x` left for the next convolution to apply
    /// (`Conv2D.callAsFunction(_:preparedBy:)`).
    // x: [N, C, ...] -> scale and shift for [N, C]
    public func affine(for x: Tensor, fusedSiLU: Bool = false) -> ChannelAffine {
        groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps, fusedSiLU: fusedSiLU)
    }
}
