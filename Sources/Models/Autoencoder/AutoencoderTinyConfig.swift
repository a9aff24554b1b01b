import Foundation

/// The fields of an AutoencoderTiny `config.json` (TAESD, TAESDXL), with diffusers' defaults for
/// absent ones.
public struct AutoencoderTinyConfig: ModelConfig, KeyedConfig, Equatable {
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

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("in_channels", \.inChannels),
            .key("out_channels", \.outChannels),
            .key("encoder_block_out_channels", \.encoderBlockOutChannels),
            .key("decoder_block_out_channels", \.decoderBlockOutChannels),
            .key("num_encoder_blocks", \.numEncoderBlocks),
            .key("num_decoder_blocks", \.numDecoderBlocks),
            .key("act_fn", \.actFn),
            .key("upsample_fn", \.upsampleFn),
            .key("upsampling_scaling_factor", \.upsamplingScalingFactor),
            .key("latent_channels", \.latentChannels),
            .key("scaling_factor", \.scalingFactor),
        ]
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
