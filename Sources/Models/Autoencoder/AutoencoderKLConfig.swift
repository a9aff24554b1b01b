import Foundation

/// The fields of an AutoencoderKL `config.json`, with diffusers' defaults for absent ones.
public struct AutoencoderKLConfig: ModelConfig, KeyedConfig, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    /// The training resolution; diffusers allows a list, of which the first entry sets the tile size.
    public var sampleSize = 32
    public var scalingFactor: Float = 0.18215
    public var shiftFactor: Float?
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true

    public init() {}

    /// The VAE of Stable Diffusion 1.x/2.x (and, with scaling factor 0.13025 and sample size 1024,
    /// SDXL), for single-file checkpoints that carry no config: LDM `ch` 128, `ch_mult` (1, 2, 4, 4),
    /// two ResNets per block, four latent channels.
    public static func stableDiffusion(sampleSize: Int = 512, scalingFactor: Float = 0.18215) -> AutoencoderKLConfig {
        var config = AutoencoderKLConfig()
        config.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: 4)
        config.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: 4)
        config.blockOutChannels = [128, 256, 512, 512]
        config.layersPerBlock = 2
        config.sampleSize = sampleSize
        config.scalingFactor = scalingFactor
        return config
    }

    public static var keys: [ConfigKey<Self>] {
        [
            .key("in_channels", \.inChannels),
            .key("out_channels", \.outChannels),
            .key("down_block_types", \.downBlockTypes),
            .key("up_block_types", \.upBlockTypes),
            .key("block_out_channels", \.blockOutChannels),
            .key("layers_per_block", \.layersPerBlock),
            .key("act_fn", \.actFn),
            .key("latent_channels", \.latentChannels),
            .key("norm_num_groups", \.normNumGroups),
            .key("sample_size", \.sampleSize, read: firstSampleSize),
            .key("scaling_factor", \.scalingFactor),
            .key("shift_factor", \.shiftFactor),
            .key("force_upcast", \.forceUpcast),
            .key("use_quant_conv", \.useQuantConv),
            .key("use_post_quant_conv", \.usePostQuantConv),
            .key("mid_block_add_attention", \.midBlockAddAttention),
        ]
    }

    /// `sample_size` as one number, or the first of a list.
    private static func firstSampleSize(_ container: KeyedDecodingContainer<ConfigKeyName>, _ key: ConfigKeyName) throws -> Int? {
        if let sizes = try? container.decodeIfPresent([Int].self, forKey: key), let first = sizes.first { return first }
        return try container.decodeIfPresent(Int.self, forKey: key)
    }

    /// The variant this implementation does not provide, naming the field; nil when it can build the model.
    public var unsupportedFeature: String? {
        if !["silu", "swish"].contains(actFn) { return "act_fn '\(actFn)' (only silu)" }
        if blockOutChannels.isEmpty || downBlockTypes.count != blockOutChannels.count
            || upBlockTypes.count != blockOutChannels.count {
            return "down/up_block_types must have one entry per block_out_channels"
        }
        if let other = downBlockTypes.first(where: { $0 != "DownEncoderBlock2D" }) {
            return "down block '\(other)' (only DownEncoderBlock2D)"
        }
        if let other = upBlockTypes.first(where: { $0 != "UpDecoderBlock2D" }) {
            return "up block '\(other)' (only UpDecoderBlock2D)"
        }
        if normNumGroups <= 0 || !blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) {
            return "block_out_channels \(blockOutChannels) not divisible by norm_num_groups \(normNumGroups)"
        }
        return nil
    }
}
