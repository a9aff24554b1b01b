import Foundation

/// The fields of an AutoencoderKL `config.json`, with diffusers' defaults for absent ones.
public struct AutoencoderKLConfig: ModelConfig, Codable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", actFn = "act_fn", latentChannels = "latent_channels"
        case normNumGroups = "norm_num_groups", sampleSize = "sample_size", scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor", forceUpcast = "force_upcast", useQuantConv = "use_quant_conv"
        case usePostQuantConv = "use_post_quant_conv", midBlockAddAttention = "mid_block_add_attention"
    }

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

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try container.decode(.inChannels, default: inChannels)
        outChannels = try container.decode(.outChannels, default: outChannels)
        downBlockTypes = try container.decode(.downBlockTypes, default: downBlockTypes)
        upBlockTypes = try container.decode(.upBlockTypes, default: upBlockTypes)
        blockOutChannels = try container.decode(.blockOutChannels, default: blockOutChannels)
        layersPerBlock = try container.decode(.layersPerBlock, default: layersPerBlock)
        actFn = try container.decode(.actFn, default: actFn)
        latentChannels = try container.decode(.latentChannels, default: latentChannels)
        normNumGroups = try container.decode(.normNumGroups, default: normNumGroups)
        if let sizes = try? container.decodeIfPresent([Int].self, forKey: .sampleSize), let first = sizes.first {
            sampleSize = first
        } else {
            sampleSize = try container.decode(.sampleSize, default: sampleSize)
        }
        scalingFactor = try container.decode(.scalingFactor, default: scalingFactor)
        shiftFactor = try container.decodeIfPresent(Float.self, forKey: .shiftFactor)
        forceUpcast = try container.decode(.forceUpcast, default: forceUpcast)
        useQuantConv = try container.decode(.useQuantConv, default: useQuantConv)
        usePostQuantConv = try container.decode(.usePostQuantConv, default: usePostQuantConv)
        midBlockAddAttention = try container.decode(.midBlockAddAttention, default: midBlockAddAttention)
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
