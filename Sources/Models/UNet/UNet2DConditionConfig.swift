import Foundation

/// The UNet's `config.json`, with diffusers' keys and defaults (models/unets/unet_2d_condition.py).
///
/// Keys for features this implementation does not provide are read too, so that a config
/// asking for one is refused by `unsupportedFeature` rather than silently ignored.
public struct UNet2DConditionConfig: ModelConfig, Codable, Equatable {
    /// A value given once for every block or as a per-block list (`attention_head_dim: 8` or `[5, 10, 20, 20]`).
    public enum PerBlock<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
        case shared(Value)
        case perBlock([Value])

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Value.self) {
                self = .shared(value)
            } else {
                self = .perBlock(try container.decode([Value].self))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case let .shared(value): try container.encode(value)
            case let .perBlock(values): try container.encode(values)
            }
        }

        /// One value per block, or nil when a list has the wrong length.
        public func values(count: Int) -> [Value]? {
            switch self {
            case let .shared(value): return [Value](repeating: value, count: count)
            case let .perBlock(values): return values.count == count ? values : nil
            }
        }
    }

    public var sampleSize: Int?
    public var inChannels = 4
    public var outChannels = 4
    public var centerInputSample = false
    public var flipSinToCos = true
    public var freqShift: Float = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    /// Per block: the transformers' first attention attends to the text instead of the image
    /// (the x4 upscaler's `[true, true, true, false]`).
    public var onlyCrossAttention = PerBlock.shared(false)
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock = PerBlock<Int>.shared(2)
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Float = 1
    public var actFn = "silu"
    public var normNumGroups: Int? = 32
    public var normEps: Float = 1e-5
    public var crossAttentionDim = PerBlock<Int>.shared(1280)
    public var transformerLayersPerBlock = PerBlock<Int>.shared(1)
    /// diffusers' naming quirk: for these UNets this is the number of heads, not their width.
    public var attentionHeadDim = PerBlock<Int>.shared(8)
    public var numAttentionHeads: PerBlock<Int>?
    public var dualCrossAttention = false
    public var useLinearProjection = false
    public var classEmbedType: String?
    public var numClassEmbeds: Int?
    /// "text_time" (SDXL): pooled text embeddings and size/crop conditioning added to the
    /// time embedding (`TextTimeEmbedding`).
    public var additionEmbedType: String?
    /// The Fourier width of each `time_ids` entry (256 in SDXL).
    public var additionTimeEmbedDim: Int?
    /// `add_embedding`'s input: the pooled text width plus time_ids count x `additionTimeEmbedDim`.
    public var projectionClassEmbeddingsInputDim: Int?
    /// Always f32 here, so upcasting changes nothing; read for completeness.
    public var upcastAttention = false
    public var resnetTimeScaleShift = ResnetBlock2D.TimeEmbeddingNorm.default
    public var timeEmbeddingType = "positional"
    public var timeEmbeddingDim: Int?
    public var timeEmbeddingActFn: String?
    public var timestepPostAct: String?
    public var timeCondProjDim: Int?
    public var encoderHidDimType: String?
    public var convInKernel = 3
    public var convOutKernel = 3
    public var attentionType = "default"
    public var classEmbeddingsConcat = false

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size"
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case centerInputSample = "center_input_sample"
        case flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift"
        case downBlockTypes = "down_block_types"
        case midBlockType = "mid_block_type"
        case upBlockTypes = "up_block_types"
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
        case attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads"
        case dualCrossAttention = "dual_cross_attention"
        case useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type"
        case numClassEmbeds = "num_class_embeds"
        case additionEmbedType = "addition_embed_type"
        case additionTimeEmbedDim = "addition_time_embed_dim"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case upcastAttention = "upcast_attention"
        case resnetTimeScaleShift = "resnet_time_scale_shift"
        case timeEmbeddingType = "time_embedding_type"
        case timeEmbeddingDim = "time_embedding_dim"
        case timeEmbeddingActFn = "time_embedding_act_fn"
        case timestepPostAct = "timestep_post_act"
        case timeCondProjDim = "time_cond_proj_dim"
        case encoderHidDimType = "encoder_hid_dim_type"
        case convInKernel = "conv_in_kernel"
        case convOutKernel = "conv_out_kernel"
        case attentionType = "attention_type"
        case classEmbeddingsConcat = "class_embeddings_concat"
    }

    public init() {}

    /// Missing keys take diffusers' defaults; `null` is kept where diffusers allows it.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleSize = try? c.decodeIfPresent(Int.self, forKey: .sampleSize)
        inChannels = try c.decode(.inChannels, default: inChannels)
        outChannels = try c.decode(.outChannels, default: outChannels)
        centerInputSample = try c.decode(.centerInputSample, default: centerInputSample)
        flipSinToCos = try c.decode(.flipSinToCos, default: flipSinToCos)
        freqShift = try c.decode(.freqShift, default: freqShift)
        downBlockTypes = try c.decode(.downBlockTypes, default: downBlockTypes)
        midBlockType = try c.decodeNullable(.midBlockType, default: midBlockType)
        upBlockTypes = try c.decode(.upBlockTypes, default: upBlockTypes)
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
        attentionHeadDim = try c.decode(.attentionHeadDim, default: attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .numAttentionHeads)
        dualCrossAttention = try c.decode(.dualCrossAttention, default: dualCrossAttention)
        useLinearProjection = try c.decode(.useLinearProjection, default: useLinearProjection)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(Int.self, forKey: .projectionClassEmbeddingsInputDim)
        upcastAttention = try c.decode(.upcastAttention, default: upcastAttention)
        resnetTimeScaleShift = try c.decode(.resnetTimeScaleShift, default: resnetTimeScaleShift)
        timeEmbeddingType = try c.decode(.timeEmbeddingType, default: timeEmbeddingType)
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        timeEmbeddingActFn = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingActFn)
        timestepPostAct = try c.decodeIfPresent(String.self, forKey: .timestepPostAct)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
        encoderHidDimType = try c.decodeIfPresent(String.self, forKey: .encoderHidDimType)
        convInKernel = try c.decode(.convInKernel, default: convInKernel)
        convOutKernel = try c.decode(.convOutKernel, default: convOutKernel)
        attentionType = try c.decode(.attentionType, default: attentionType)
        classEmbeddingsConcat = try c.decode(.classEmbeddingsConcat, default: classEmbeddingsConcat)
    }

    /// The reason this implementation cannot build the model the config describes, if any.
    public var unsupportedFeature: String? {
        let blocks = blockOutChannels.count
        let checks: [(Bool, String)] = [
            (blocks > 0 && blockOutChannels.allSatisfy { $0 > 0 }, "block_out_channels \(blockOutChannels)"),
            (downBlockTypes.count == blocks && upBlockTypes.count == blocks,
             "down_block_types, up_block_types and block_out_channels differ in length"),
            (downBlockTypes.allSatisfy { ["CrossAttnDownBlock2D", "DownBlock2D"].contains($0) },
             "down_block_types \(downBlockTypes)"),
            (upBlockTypes.allSatisfy { ["CrossAttnUpBlock2D", "UpBlock2D"].contains($0) },
             "up_block_types \(upBlockTypes)"),
            (midBlockType == nil || midBlockType == "UNetMidBlock2DCrossAttn", "mid_block_type \(midBlockType ?? "")"),
            (layersPerBlock.values(count: blocks) != nil, "layers_per_block needs one value per block"),
            (crossAttentionDim.values(count: blocks) != nil, "cross_attention_dim needs one value per block"),
            (transformerLayersPerBlock.values(count: blocks) != nil,
             "transformer_layers_per_block needs one value per block"),
            ((numAttentionHeads ?? attentionHeadDim).values(count: blocks) != nil,
             "attention_head_dim needs one value per block"),
            (normNumGroups.map { groups in groups > 0 && blockOutChannels.allSatisfy { $0 % groups == 0 } } ?? false,
             "norm_num_groups \(normNumGroups.map(String.init) ?? "null") does not divide block_out_channels"),
            (actFn == "silu", "act_fn \(actFn)"),
            (onlyCrossAttention.values(count: blocks) != nil, "only_cross_attention needs one value per block"),
            (!dualCrossAttention, "dual_cross_attention"),
            (classEmbedType == nil, "class_embed_type \(classEmbedType ?? "")"),
            (additionEmbedType == nil || additionEmbedType == "text_time",
             "addition_embed_type \(additionEmbedType ?? "")"),
            (additionEmbedType != "text_time"
                || (additionTimeEmbedDim ?? 0) > 0 && (projectionClassEmbeddingsInputDim ?? 0) > 0,
             "addition_embed_type text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim"),
            (timeEmbeddingType == "positional", "time_embedding_type \(timeEmbeddingType)"),
            (timeEmbeddingActFn == nil && timestepPostAct == nil && timeCondProjDim == nil,
             "extra time-embedding layers"),
            (encoderHidDimType == nil, "encoder_hid_dim_type"),
            (attentionType == "default", "attention_type \(attentionType)"),
            (!classEmbeddingsConcat, "class_embeddings_concat"),
            (convInKernel % 2 == 1 && convOutKernel % 2 == 1, "even conv kernel"),
        ]
        return checks.first { !$0.0 }?.1
    }
}
