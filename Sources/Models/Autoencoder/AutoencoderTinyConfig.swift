import Foundation

/// The fields of an AutoencoderTiny `config.json` (TAESD, TAESDXL), with diffusers' defaults for
/// absent ones.
public struct AutoencoderTinyConfig: ModelConfig, Codable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var encoderBlockOutChannels = [64, 64, 64, 64]
    public var decoderBlockOutChannels = [64, 64, 64, 64]
    public var numEncoderBlocks = [1, 3, 3, 3]
    public var numDecoderBlocks = [3, 3, 3, 1]
    public var actFn = "relu"
    public var upsampleFn = "nearest"
    public var upsamplingScalingFactor = 2
    public var latentChannels = 4
    /// 1 for the released TAESD models: their latents are already on the UNet's scale.
    public var scalingFactor: Float = 1

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case encoderBlockOutChannels = "encoder_block_out_channels", decoderBlockOutChannels = "decoder_block_out_channels"
        case numEncoderBlocks = "num_encoder_blocks", numDecoderBlocks = "num_decoder_blocks"
        case actFn = "act_fn", upsampleFn = "upsample_fn", upsamplingScalingFactor = "upsampling_scaling_factor"
        case latentChannels = "latent_channels", scalingFactor = "scaling_factor"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try container.decode(.inChannels, default: inChannels)
        outChannels = try container.decode(.outChannels, default: outChannels)
        encoderBlockOutChannels = try container.decode(.encoderBlockOutChannels, default: encoderBlockOutChannels)
        decoderBlockOutChannels = try container.decode(.decoderBlockOutChannels, default: decoderBlockOutChannels)
        numEncoderBlocks = try container.decode(.numEncoderBlocks, default: numEncoderBlocks)
        numDecoderBlocks = try container.decode(.numDecoderBlocks, default: numDecoderBlocks)
        actFn = try container.decode(.actFn, default: actFn)
        upsampleFn = try container.decode(.upsampleFn, default: upsampleFn)
        upsamplingScalingFactor = try container.decode(.upsamplingScalingFactor, default: upsamplingScalingFactor)
        latentChannels = try container.decode(.latentChannels, default: latentChannels)
        scalingFactor = try container.decode(.scalingFactor, default: scalingFactor)
    }

    /// The variant this implementation does not provide, naming the field; nil when it can build the model.
    public var unsupportedFeature: String? {
        if actFn != "relu" { return "act_fn '\(actFn)' (only relu)" }
        if upsampleFn != "nearest" || upsamplingScalingFactor != 2 {
            return "upsample_fn '\(upsampleFn)' x\(upsamplingScalingFactor) (only nearest x2)"
        }
        if encoderBlockOutChannels.isEmpty || encoderBlockOutChannels.count != numEncoderBlocks.count {
            return "encoder_block_out_channels and num_encoder_blocks must have one entry per block"
        }
        if decoderBlockOutChannels.isEmpty || decoderBlockOutChannels.count != numDecoderBlocks.count {
            return "decoder_block_out_channels and num_decoder_blocks must have one entry per block"
        }
        if encoderBlockOutChannels.count != decoderBlockOutChannels.count {
            return "the encoder and decoder must have as many blocks (\(encoderBlockOutChannels.count) and \(decoderBlockOutChannels.count))"
        }
        return nil
    }
}
