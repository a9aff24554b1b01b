import Tensors

/// diffusers' `Encoder` (autoencoders/vae.py): conv_in, DownEncoderBlock2Ds, the mid block,
/// GroupNorm-SiLU, conv_out to the Gaussian's mean and log-variance (`double_z`).
public struct VAEEncoder: Sendable {
    public let convIn: Conv2D
    public let downBlocks: [DownEncoderBlock2D]
    public let midBlock: UNetMidBlock2D
    public let convNormOut: GroupNorm
    public let convOut: Conv2D

    public init(_ parameters: Parameters, config: AutoencoderKLConfig) throws {
        let channels = config.blockOutChannels
        let groups = config.normNumGroups
        convIn = try Conv2D(parameters.scoped("conv_in"), inChannels: config.inChannels, outChannels: channels[0],
                            kernelSize: 3, padding: 1)
        downBlocks = try channels.indices.map { index in
            try DownEncoderBlock2D(parameters.scoped("down_blocks.\(index)"),
                                   inChannels: channels[max(0, index - 1)], outChannels: channels[index],
                                   layers: config.layersPerBlock, groups: groups, eps: 1e-6,
                                   addDownsample: index < channels.count - 1, downsamplePadding: 0)
        }
        let last = channels[channels.count - 1]
        midBlock = try UNetMidBlock2D(parameters.scoped("mid_block"), channels: last, groups: groups, eps: 1e-6,
                                      addAttention: config.midBlockAddAttention)
        convNormOut = try GroupNorm(parameters.scoped("conv_norm_out"), groups: groups, channels: last, eps: 1e-6)
        convOut = try Conv2D(parameters.scoped("conv_out"), inChannels: last, outChannels: 2 * config.latentChannels,
                             kernelSize: 3, padding: 1)
    }

    // x: [N, in_channels, H, W] -> [N, 2 * latent_channels, H / f, W / f]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let features = downBlocks.reduce(convIn(x)) { hidden, block in block(hidden) }
        let mid = midBlock(features)
        return convOut(mid, preparedBy: convNormOut.affine(for: mid, fusedSiLU: true))
    }
}
