import Tensors

/// torch.nn.Conv2d (square kernel, groups 1) with its weights loaded; an f16/bf16 weight stays
/// half-size in memory.
public struct Conv2D: Sendable {
    /// The weight as the checkpoint stores it.
    public let storedWeight: WeightTensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Padding2D

    // weight: [out, in, k, k], bias: [out]
    public init(_ parameters: Parameters, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, bias: Bool = true) throws {
        storedWeight = try parameters.weight("weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        self.bias = bias ? try parameters.tensor("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = Padding2D(padding)
    }

    // x: [N, in, H, W] -> [N, out, OH, OW]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: storedWeight, bias: bias, stride: stride, padding: padding)
    }

    /// The convolution of `affine.applied(to: x)`, mapping rows as they are staged (a GroupNorm's
    /// apply pass fused into the convolution).
    // x: [N, in, H, W], affine: [N * in] -> [N, out, OH, OW]
    public func callAsFunction(_ x: Tensor, preparedBy affine: ChannelAffine) -> Tensor {
        conv2d(x, preparedBy: affine, weight: storedWeight, bias: bias, stride: stride, padding: padding)
    }

    /// The convolution with `epilogue` (an activation, a scaled residual) fused into its store.
    // x: [N, in, H, W] -> [N, out, OH, OW]
    public func callAsFunction(_ x: Tensor, epilogue: ConvEpilogue) -> Tensor {
        conv2d(x, weight: storedWeight, bias: bias, stride: stride, padding: padding, epilogue: epilogue)
    }

    /// The convolution after extra zero padding (diffusers' `F.pad` before an unpadded conv).
    // x: [N, in, H, W] -> [N, out, OH, OW]
    public func callAsFunction(_ x: Tensor, extraPadding: Padding2D) -> Tensor {
        let total = Padding2D(top: padding.top + extraPadding.top, bottom: padding.bottom + extraPadding.bottom,
                              left: padding.left + extraPadding.left, right: padding.right + extraPadding.right)
        return conv2d(x, weight: storedWeight, bias: bias, stride: stride, padding: total)
    }
}
