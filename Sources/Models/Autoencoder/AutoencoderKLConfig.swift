import Foundation

/// The fields of an AutoencoderKL `config.json`, with diffusers' defaults for absent ones.
public struct AutoencoderKLConfig: Codable, Sendable, Equatable {
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
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        inChannels = try value(.inChannels, inChannels)
        outChannels = try value(.outChannels, outChannels)
        downBlockTypes = try value(.downBlockTypes, downBlockTypes)
        upBlockTypes = try value(.upBlockTypes, upBlockTypes)
        blockOutChannels = try value(.blockOutChannels, blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, layersPerBlock)
        actFn = try value(.actFn, actFn)
        latentChannels = try value(.latentChannels, latentChannels)
        normNumGroups = try value(.normNumGroups, normNumGroups)
        if let sizes = try? container.decodeIfPresent([Int].self, forKey: .sampleSize), let first = sizes.first {
            sampleSize = first
        } else {
            sampleSize = try value(.sampleSize, sampleSize)
        }
        scalingFactor = try value(.scalingFactor, scalingFactor)
        shiftFactor = try container.decodeIfPresent(Float.self, forKey: .shiftFactor)
        forceUpcast = try value(.forceUpcast, forceUpcast)
        useQuantConv = try value(.useQuantConv, useQuantConv)
        usePostQuantConv = try value(.usePostQuantConv, usePostQuantConv)
        midBlockAddAttention = try value(.midBlockAddAttention, midBlockAddAttention)
    }

    /// Reads `config.json`; a malformed file is a one-line error naming it.
    public static func load(from url: URL) throws -> AutoencoderKLConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelsError.badConfig(path: url.path, detail: "cannot read the file")
        }
        do {
            return try JSONDecoder().decode(AutoencoderKLConfig.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ModelsError.badConfig(path: url.path, detail: "\(field.isEmpty ? "JSON" : field): \(context.debugDescription)")
        } catch {
            throw ModelsError.badConfig(path: url.path, detail: "not an AutoencoderKL config")
        }
    }

    /// Refuses the variants this implementation does not provide, naming the field.
    func validate(path: String) throws {
        func refuse(_ detail: String) -> ModelsError { .unsupportedConfig(path: path, detail: detail) }
        guard ["silu", "swish"].contains(actFn) else { throw refuse("act_fn '\(actFn)' (only silu)") }
        guard !blockOutChannels.isEmpty, downBlockTypes.count == blockOutChannels.count,
              upBlockTypes.count == blockOutChannels.count else {
            throw refuse("down/up_block_types must have one entry per block_out_channels")
        }
        if let other = downBlockTypes.first(where: { $0 != "DownEncoderBlock2D" }) {
            throw refuse("down block '\(other)' (only DownEncoderBlock2D)")
        }
        if let other = upBlockTypes.first(where: { $0 != "UpDecoderBlock2D" }) {
            throw refuse("up block '\(other)' (only UpDecoderBlock2D)")
        }
        guard normNumGroups > 0, blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) else {
            throw refuse("block_out_channels \(blockOutChannels) not divisible by norm_num_groups \(normNumGroups)")
        }
    }
}
