import Tensors
import Weights

/// diffusers' AutoencoderKL (autoencoders/autoencoder_kl.py): images to a diagonal Gaussian
/// over latents and latents back to images, optionally in blended tiles.
public struct AutoencoderKL: PretrainedModel, Sendable {
    public let config: AutoencoderKLConfig
    public let encoder: VAEEncoder
    public let decoder: VAEDecoder
    public let quantConv: Conv2D?
    public let postQuantConv: Conv2D?
    /// Tiled encode/decode settings; nil (the default) runs whole images, as diffusers does
    /// until `enable_tiling()`.
    public var tiling: VAETiling?

    /// Builds the model from weights with diffusers names, which must be exactly its weights.
    ///
    /// Weights saved before diffusers renamed the mid-block attention (`query`, `key`, `value`,
    /// `proj_attn`) load too, renamed as diffusers renames them on load.
    public init(config: AutoencoderKLConfig, source: any ParameterSource) throws {
        try config.checkSupported(weightsPath: source.path)
        let parameters = Parameters(RenamedParameterSource(source, rename: Self.currentAttentionName))
        self.config = config
        encoder = try VAEEncoder(parameters.scoped("encoder"), config: config)
        decoder = try VAEDecoder(parameters.scoped("decoder"), config: config)
        let moments = 2 * config.latentChannels
        quantConv = config.useQuantConv
            ? try Conv2D(parameters.scoped("quant_conv"), inChannels: moments, outChannels: moments, kernelSize: 1)
            : nil
        postQuantConv = config.usePostQuantConv
            ? try Conv2D(parameters.scoped("post_quant_conv"), inChannels: config.latentChannels,
                         outChannels: config.latentChannels, kernelSize: 1)
            : nil
        try parameters.checkAllUsed()
    }

    /// How many pixels one latent covers along each side.
    public var downscaleFactor: Int { 1 << (config.blockOutChannels.count - 1) }

    /// diffusers' `enable_tiling()`: tiles of `sample_size` pixels, overlapping by a quarter.
    public mutating func enableTiling() {
        tiling = VAETiling(sampleTileSize: config.sampleSize, latentTileSize: config.sampleSize / downscaleFactor)
    }

    /// The posterior over latents for images in [-1, 1].
    // x: [N, in_channels, H, W] -> Gaussian over [N, latent_channels, H / f, W / f]
    public func encode(_ x: Tensor) -> DiagonalGaussian {
        if let tiling, x.shape[2] > tiling.sampleTileSize || x.shape[3] > tiling.sampleTileSize {
            return DiagonalGaussian(moments: tiling.run(x, inputTile: tiling.sampleTileSize,
                                                        outputTile: tiling.latentTileSize, encodeMoments))
        }
        return DiagonalGaussian(moments: encodeMoments(x))
    }

    /// Images (about [-1, 1]) from latents (not scaled: divide by `scaling_factor` first).
    // z: [N, latent_channels, h, w] -> [N, out_channels, h * f, w * f]
    public func decode(_ z: Tensor) -> Tensor {
        if let tiling, z.shape[2] > tiling.latentTileSize || z.shape[3] > tiling.latentTileSize {
            return tiling.run(z, inputTile: tiling.latentTileSize, outputTile: tiling.sampleTileSize, decodeTile)
        }
        return decodeTile(z)
    }

    /// diffusers' `_convert_deprecated_attention_blocks`: `*.attentions.N.query.weight` is
    /// `*.attentions.N.to_q.weight`, and so on; every other key keeps its name.
    static func currentAttentionName(_ key: String) -> KeyRename {
        let renames = ["query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"]
        var parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let count = parts.count
        if count >= 4, parts[count - 4] == "attentions", let renamed = renames[parts[count - 2]] {
            parts[count - 2] = renamed
        }
        return .tensors([RenamedTensor(parts.joined(separator: "."))])
    }

    private func encodeMoments(_ x: Tensor) -> Tensor {
        let moments = encoder(x)
        return quantConv.map { $0(moments) } ?? moments
    }

    private func decodeTile(_ z: Tensor) -> Tensor {
        decoder(postQuantConv.map { $0(z) } ?? z)
    }
}
