import Foundation

/// The ControlNet's `config.json`, with diffusers' keys and defaults (models/controlnets/controlnet.py).
///
/// The contracting path is the UNet's, so `unetConfig` restates it as a UNet config: the blocks
/// are built, and the unsupported variants refused, by the same code as the UNet's.
@dynamicMemberLookup
public struct ControlNetConfig: ModelConfig, KeyedConfig, HasContractingPath, Equatable {
    /// The keys shared with the UNet this ControlNet copies.
    public var contractingPath = UNetContractingPathConfig()
    public var conditioningChannels = 3
    public var onlyCrossAttention = false
    public var layersPerBlock = 2
    public var crossAttentionDim = 1280
    public var encoderHidDim: Int?
    /// "rgb", or "bgr" for models trained on BGR control images (the channels are flipped first).
    public var controlnetConditioningChannelOrder = "rgb"
    public var conditioningEmbeddingOutChannels: [Int]? = [16, 32, 96, 256]
    /// Residuals averaged over the image (shuffle-style ControlNets).
    public var globalPoolConditions = false

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        ConfigKey.keys(of: \.contractingPath) + [
            .key("conditioning_channels", \.conditioningChannels),
            .key("only_cross_attention", \.onlyCrossAttention),
            .key("layers_per_block", \.layersPerBlock),
            .key("cross_attention_dim", \.crossAttentionDim),
            .key("encoder_hid_dim", \.encoderHidDim),
            .key("controlnet_conditioning_channel_order", \.controlnetConditioningChannelOrder),
            .key("conditioning_embedding_out_channels", \.conditioningEmbeddingOutChannels),
            .key("global_pool_conditions", \.globalPoolConditions),
        ]
    }

    /// The UNet whose contracting path (time embedding, conv_in, down and mid blocks) this
    /// ControlNet copies, as `ControlNetModel.from_unet` pairs them.
    public var unetConfig: UNet2DConditionConfig {
        var unet = UNet2DConditionConfig()
        unet.contractingPath = contractingPath
        unet.upBlockTypes = contractingPath.downBlockTypes.reversed().map {
            $0 == "DownBlock2D" ? "UpBlock2D" : "CrossAttnUpBlock2D"
        }
        unet.onlyCrossAttention = .shared(onlyCrossAttention)
        unet.layersPerBlock = .shared(layersPerBlock)
        unet.crossAttentionDim = .shared(crossAttentionDim)
        return unet
    }

    /// The reason this implementation cannot build the model the config describes, if any.
    public var unsupportedFeature: String? {
        let checks: [(Bool, String)] = [
            (!contractingPath.blockOutChannels.isEmpty, "block_out_channels empty"),
            (contractingPath.midBlockType == "UNetMidBlock2DCrossAttn",
             "mid_block_type \(contractingPath.midBlockType ?? "null")"),
            (["rgb", "bgr"].contains(controlnetConditioningChannelOrder),
             "controlnet_conditioning_channel_order \(controlnetConditioningChannelOrder)"),
            (!(conditioningEmbeddingOutChannels ?? []).isEmpty, "conditioning_embedding_out_channels null or empty"),
            (conditioningChannels > 0, "conditioning_channels \(conditioningChannels)"),
            (contractingPath.numClassEmbeds == nil, "num_class_embeds"),
            (encoderHidDim == nil, "encoder_hid_dim"),
        ]
        return checks.first { !$0.0 }?.1 ?? unetConfig.unsupportedFeature
    }
}
