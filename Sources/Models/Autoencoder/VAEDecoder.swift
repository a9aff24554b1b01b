import Tensors

/// diffusers' `Decoder` (autoencoders/vae.py) with `norm_type="group"`: conv_in, the mid
/// block, UpDecoderBlock2Ds (layers_per_block + 1 ResNets each), GroupNorm-SiLU, conv_out.
public struct VAEDecoder: Sendable {
    public let convIn: Conv2D
    public let midBlock: UNetMidBlock2D
    public let upBlocks: [UpDecoderBlock2D]
    public let convNormOut: GroupNorm
    public let convOut: Conv2D

    public init(_ parameters: Parameters, config: AutoencoderKLConfig) throws {
        let reversed = Array(config.blockOutChannels.reversed())
        let groups = config.normNumGroups
        convIn = try Conv2D(parameters.scoped("conv_in"), inChannels: config.latentChannels, outChannels: reversed[0],
                            kernelSize: 3, padding: 1)
        midBlock = try UNetMidBlock2D(parameters.scoped("mid_block"), channels: reversed[0], groups: groups,
                                      eps: 1e-6, addAttention: config.midBlockAddAttention)
        upBlocks = try reversed.indices.map { index in
            try UpDecoderBlock2D(parameters.scoped("up_blocks.\(index)"), inChannels: reversed[max(0, index - 1)],
                                 outChannels: reversed[index], layers: config.layersPerBlock + 1, groups: groups,
                                 eps: 1e-6, addUpsample: index < reversed.count - 1)
        }
        let last = reversed[reversed.count - 1]
        convNormOut = try GroupNorm(parameters.scoped("conv_norm_out"), groups: groups, channels: last, eps: 1e-6)
        convOut = try Conv2D(parameters.scoped("conv_out"), inChannels: last, outChannels: config.outChannels,
                             kernelSize: 3, padding: 1)
    }

    // z: [N, latent_channels, h, w] -> [N, out_channels, h * f, w * f]
    public func callAsFunction(_ z: Tensor) -> Tensor {
        let features = upBlocks.reduce(midBlock(convIn(z))) { hidden, block in block(hidden) }
        return convOut(features, preparedBy: convNormOut.affine(for: features, fusedSiLU: true))
    }
}
