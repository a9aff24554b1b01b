import Tensors
import Weights

/// diffusers' AutoencoderTiny (autoencoders/autoencoder_tiny.py): TAESD and TAESDXL, distilled
/// VAEs of about a million parameters each for encoder and decoder, whose latents stand in for
/// AutoencoderKL's (lossy; a fraction of its time). Its encoder gives the latents themselves,
/// not a distribution, so pipelines draw nothing from the generator to encode.
public struct AutoencoderTiny: PretrainedModel, Sendable {
    public let config: AutoencoderTinyConfig
    public let encoder: EncoderTiny
    public let decoder: DecoderTiny

    public init(config: AutoencoderTinyConfig, source: any ParameterSource) throws {
        try config.checkSupported(weightsPath: source.path)
        let parameters = Parameters(source)
        self.config = config
        encoder = try EncoderTiny(parameters.scoped("encoder"), config: config)
        decoder = try DecoderTiny(parameters.scoped("decoder"), config: config)
        try parameters.checkAllUsed()
    }

    /// How many pixels one latent covers along each side.
    public var downscaleFactor: Int { 1 << (config.encoderBlockOutChannels.count - 1) }

    /// Latents (not yet times `scaling_factor`) for images in [-1, 1].
    // x: [N, in_channels, H, W] -> [N, latent_channels, H / f, W / f]
    public func encode(_ x: Tensor) -> Tensor { encoder(x) }

    /// Images (about [-1, 1]) from latents (divided by `scaling_factor` first).
    // z: [N, latent_channels, h, w] -> [N, out_channels, h * f, w * f]
    public func decode(_ z: Tensor) -> Tensor { decoder(z) }
}
