import Tensors

/// diffusers' UpDecoderBlock2D (unets/unet_2d_blocks.py): ResNet blocks without a time
/// embedding, then an optional nearest-2x upsampler with its convolution.
public struct UpDecoderBlock2D: Sendable {
    public let resnets: [ResnetBlock2D]
    public let upsampler: Upsample2D?

    public init(_ parameters: Parameters, inChannels: Int, outChannels: Int, layers: Int, groups: Int, eps: Float,
                addUpsample: Bool) throws {
        resnets = try (0..<layers).map { index in
            try ResnetBlock2D(parameters.scoped("resnets.\(index)"), inChannels: index == 0 ? inChannels : outChannels,
                              outChannels: outChannels, tembChannels: nil, groups: groups, eps: eps)
        }
        upsampler = try Upsample2D.ofBlock(parameters, added: addUpsample, channels: outChannels)
    }

    // x: [N, in, H, W] -> [N, out, H', W'] (doubled when upsampling)
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let hidden = resnets.reduce(x) { hidden, resnet in resnet(hidden) }
        return upsampler.map { $0(hidden) } ?? hidden
    }
}
