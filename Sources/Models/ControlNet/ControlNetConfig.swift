import Foundation

/// The ControlNet's `config.json`, with diffusers' keys and defaults (models/controlnets/controlnet.py).
///
/// The contracting path is the UNet's, so `unetConfig` restates it as a UNet config: the blocks
/// are built, and the unsupported variants refused, by the same code as the UNet's.
public struct ControlNetConfig: ModelConfig, Codable, Equatable {
    public typealias PerBlock = UNet2DConditionConfig.PerBlock

    public var inChannels = 4
    public var conditioningChannels = 3
    public var flipSinToCos = true
    public var freqShift: Float = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var onlyCrossAttention = false
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock = 2
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Float = 1
    public var actFn = "silu"
    public var normNumGroups: Int? = 32
    public var normEps: Float = 1e-5
    public var crossAttentionDim = 1280
    public var transformerLayersPerBlock = PerBlock<Int>.shared(1)
    public var encoderHidDim: Int?
    public var encoderHidDimType: String?
    /// diffusers' naming quirk: for these models this is the number of heads, not their width.
    public var attentionHeadDim = PerBlock<Int>.shared(8)
    public var numAttentionHeads: PerBlock<Int>?
    public var useLinearProjection = false
    public var classEmbedType: String?
    public var additionEmbedType: String?
    public var additionTimeEmbedDim: Int?
    public var projectionClassEmbeddingsInputDim: Int?
    public var numClassEmbeds: Int?
    /// Always f32 here, so upcasting changes nothing; read for completeness.
    public var upcastAttention = false
    public var resnetTimeScaleShift = ResnetBlock2D.TimeEmbeddingNorm.default
    /// "rgb", or "bgr" for models trained on BGR control images (the channels are flipped first).
    public var controlnetConditioningChannelOrder = "rgb"
    public var conditioningEmbeddingOutChannels: [Int]? = [16, 32, 96, 256]
    /// Residuals averaged over the image (shuffle-style ControlNets).
    public var globalPoolConditions = false

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels"
        case conditioningChannels = "conditioning_channels"
        case flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift"
        case downBlockTypes = "down_block_types"
        case midBlockType = "mid_block_type"
        case onlyCrossAttention = "only_cross_attention"
        case blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block"
        case downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor"
        case actFn = "act_fn"
        case normNumGroups = "norm_num_groups"
        case normEps = "norm_eps"
        case crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case encoderHidDim = "encoder_hid_dim"
        case encoderHidDimType = "encoder_hid_dim_type"
        case attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads"
        case useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type"
        case additionEmbedType = "addition_embed_type"
        case additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case numClassEmbeds = "num_class_embeds"
        case upcastAttention = "upcast_attention"
        case resnetTimeScaleShift = "resnet_time_scale_shift"
        case controlnetConditioningChannelOrder = "controlnet_conditioning_channel_order"
        case conditioningEmbeddingOutChannels = "conditioning_embedding_out_channels"
        case globalPoolConditions = "global_pool_conditions"
    }

    public init() {}

    /// Missing keys take diffusers' defaults; `null` is kept where diffusers allows it.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decode(.inChannels, default: inChannels)
        conditioningChannels = try c.decode(.conditioningChannels, default: conditioningChannels)
        flipSinToCos = try c.decode(.flipSinToCos, default: flipSinToCos)
        freqShift = try c.decode(.freqShift, default: freqShift)
        downBlockTypes = try c.decode(.downBlockTypes, default: downBlockTypes)
        midBlockType = try c.decodeNullable(.midBlockType, default: midBlockType)
        onlyCrossAttention = try c.decode(.onlyCrossAttention, default: onlyCrossAttention)
        blockOutChannels = try c.decode(.blockOutChannels, default: blockOutChannels)
        layersPerBlock = try c.decode(.layersPerBlock, default: layersPerBlock)
        downsamplePadding = try c.decode(.downsamplePadding, default: downsamplePadding)
        midBlockScaleFactor = try c.decode(.midBlockScaleFactor, default: midBlockScaleFactor)
        actFn = try c.decode(.actFn, default: actFn)
        normNumGroups = try c.decodeNullable(.normNumGroups, default: normNumGroups)
        normEps = try c.decode(.normEps, default: normEps)
        crossAttentionDim = try c.decode(.crossAttentionDim, default: crossAttentionDim)
        transformerLayersPerBlock = try c.decode(.transformerLayersPerBlock, default: transformerLayersPerBlock)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
        encoderHidDimType = try c.decodeIfPresent(String.self, forKey: .encoderHidDimType)
        attentionHeadDim = try c.decode(.attentionHeadDim, default: attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .numAttentionHeads)
        useLinearProjection = try c.decode(.useLinearProjection, default: useLinearProjection)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(Int.self, forKey: .projectionClassEmbeddingsInputDim)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        upcastAttention = try c.decode(.upcastAttention, default: upcastAttention)
        resnetTimeScaleShift = try c.decode(.resnetTimeScaleShift, default: resnetTimeScaleShift)
        controlnetConditioningChannelOrder = try c.decode(.controlnetConditioningChannelOrder,
                                                          default: controlnetConditioningChannelOrder)
        conditioningEmbeddingOutChannels = try c.decodeNullable(.conditioningEmbeddingOutChannels,
                                                                default: conditioningEmbeddingOutChannels)
        globalPoolConditions = try c.decode(.globalPoolConditions, default: globalPoolConditions)
    }

    /// The UNet whose contracting path (time embedding, conv_in, down and mid blocks) this
    /// ControlNet copies, as `ControlNetModel.from_unet` pairs them.
    public var unetConfig: UNet2DConditionConfig {
        var unet = UNet2DConditionConfig()
        unet.inChannels = inChannels
        unet.flipSinToCos = flipSinToCos
        unet.freqShift = freqShift
        unet.downBlockTypes = downBlockTypes
        unet.upBlockTypes = downBlockTypes.reversed().map { $0 == "DownBlock2D" ? "UpBlock2D" : "CrossAttnUpBlock2D" }
        unet.midBlockType = midBlockType
        unet.onlyCrossAttention = .shared(onlyCrossAttention)
        unet.blockOutChannels = blockOutChannels
        unet.layersPerBlock = .shared(layersPerBlock)
        unet.downsamplePadding = downsamplePadding
        unet.midBlockScaleFactor = midBlockScaleFactor
        unet.actFn = actFn
        unet.normNumGroups = normNumGroups
        unet.normEps = normEps
        unet.crossAttentionDim = .shared(crossAttentionDim)
        unet.transformerLayersPerBlock = transformerLayersPerBlock
        unet.attentionHeadDim = attentionHeadDim
        unet.numAttentionHeads = numAttentionHeads
        unet.useLinearProjection = useLinearProjection
        unet.classEmbedType = classEmbedType
        unet.additionEmbedType = additionEmbedType
        unet.additionTimeEmbedDim = additionTimeEmbedDim
        unet.projectionClassEmbeddingsInputDim = projectionClassEmbeddingsInputDim
        unet.upcastAttention = upcastAttention
        unet.resnetTimeScaleShift = resnetTimeScaleShift
        unet.encoderHidDimType = encoderHidDimType
        return unet
    }

    /// The reason this implementation cannot build the model the config describes, if any.
    public var unsupportedFeature: String? {
        let checks: [(Bool, String)] = [
            (!blockOutChannels.isEmpty, "block_out_channels empty"),
            (midBlockType == "UNetMidBlock2DCrossAttn", "mid_block_type \(midBlockType ?? "null")"),
            (["rgb", "bgr"].contains(controlnetConditioningChannelOrder),
             "controlnet_conditioning_channel_order \(controlnetConditioningChannelOrder)"),
            (!(conditioningEmbeddingOutChannels ?? []).isEmpty, "conditioning_embedding_out_channels null or empty"),
            (conditioningChannels > 0, "conditioning_channels \(conditioningChannels)"),
            (numClassEmbeds == nil, "num_class_embeds"),
            (encoderHidDim == nil, "encoder_hid_dim"),
        ]
        return checks.first { !$0.0 }?.1 ?? unetConfig.unsupportedFeature
    }
}
