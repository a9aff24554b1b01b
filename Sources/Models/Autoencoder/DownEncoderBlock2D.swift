import Tensors

/// diffusers' DownEncoderBlock2D (unets/unet_2d_blocks.py): ResNet blocks without a time
/// embedding, then an optional stride-2 downsampler.
public struct DownEncoderBlock2D: Sendable {
    public let resnets: [ResnetBlock2D]
    public let downsampler: Downsample2D?

    public init(_ parameters: Parameters, inChannels: Int, outChannels: Int, layers: Int, groups: Int, eps: Float,
                addDownsample: Bool, downsamplePadding: Int) throws {
        resnets = try (0..<layers).map { index in
            try ResnetBlock2D(parameters.scoped("resnets.\(index)"), inChannels: index == 0 ? inChannels : outChannels,
                              outChannels: outChannels, tembChannels: nil, groups: groups, eps: eps)
        }
        downsampler = try Downsample2D.ofBlock(parameters, added: addDownsample, channels: outChannels,
                                               padding: downsamplePadding)
    }

    // x: [N, in, H, W] -> [N, out, H', W'] (halved when downsampling)
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let hidden = resnets.reduce(x) { hidden, resnet in resnet(hidden) }
        return downsampler.map { $0(hidden) } ?? hidden
    }
}
