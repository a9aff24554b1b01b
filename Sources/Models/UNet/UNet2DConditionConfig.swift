import Foundation

/// The UNet's `config.json`, with diffusers' keys and defaults (models/unets/unet_2d_condition.py).
///
/// Keys for features this implementation does not provide are read too, so that a config
/// asking for one is refused by `unsupportedFeature` rather than silently ignored.
@dynamicMemberLookup
public struct UNet2DConditionConfig: ModelConfig, KeyedConfig, HasContractingPath, Equatable {
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

    /// The keys this UNet shares with the ControlNets made from it.
    public var contractingPath = UNetContractingPathConfig()
    public var sampleSize: Int?
    public var outChannels = 4
    public var centerInputSample = false
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    /// Per block: the transformers' first attention attends to the text instead of the image
    /// (the x4 upscaler's `[true, true, true, false]`).
    public var onlyCrossAttention = PerBlock.shared(false)
    public var layersPerBlock = PerBlock<Int>.shared(2)
    public var crossAttentionDim = PerBlock<Int>.shared(1280)
    public var dualCrossAttention = false
    public var timeEmbeddingType = "positional"
    public var timeEmbeddingDim: Int?
    public var timeEmbeddingActFn: String?
    public var timestepPostAct: String?
    public var timeCondProjDim: Int?
    public var convInKernel = 3
    public var convOutKernel = 3
    public var attentionType = "default"
    public var classEmbeddingsConcat = false

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        ConfigKey.keys(of: \.contractingPath) + [
            .key("sample_size", \.sampleSize, read: sampleSizeIfOneNumber),
            .key("out_channels", \.outChannels),
            .key("center_input_sample", \.centerInputSample),
            .key("up_block_types", \.upBlockTypes),
            .key("only_cross_attention", \.onlyCrossAttention),
            .key("layers_per_block", \.layersPerBlock),
            .key("cross_attention_dim", \.crossAttentionDim),
            .key("dual_cross_attention", \.dualCrossAttention),
            .key("time_embedding_type", \.timeEmbeddingType),
            .key("time_embedding_dim", \.timeEmbeddingDim),
            .key("time_embedding_act_fn", \.timeEmbeddingActFn),
            .key("timestep_post_act", \.timestepPostAct),
            .key("time_cond_proj_dim", \.timeCondProjDim),
            .key("conv_in_kernel", \.convInKernel),
            .key("conv_out_kernel", \.convOutKernel),
            .key("attention_type", \.attentionType),
            .key("class_embeddings_concat", \.classEmbeddingsConcat),
        ]
    }

    /// `sample_size` when it is one number; a list (as some configs write) reads as none.
    private static func sampleSizeIfOneNumber(_ container: KeyedDecodingContainer<ConfigKeyName>,
                                              _ key: ConfigKeyName) -> Int? {
        try? container.decodeIfPresent(Int.self, forKey: key)
    }

    /// The reason this implementation cannot build the model the config describes, if any.
    public var unsupportedFeature: String? {
        let shared = contractingPath
        let blocks = shared.blockOutChannels.count
        let checks: [(Bool, String)] = [
            (blocks > 0 && shared.blockOutChannels.allSatisfy { $0 > 0 }, "block_out_channels \(shared.blockOutChannels)"),
            (shared.downBlockTypes.count == blocks && upBlockTypes.count == blocks,
             "down_block_types, up_block_types and block_out_channels differ in length"),
            (shared.downBlockTypes.allSatisfy { ["CrossAttnDownBlock2D", "DownBlock2D"].contains($0) },
             "down_block_types \(shared.downBlockTypes)"),
            (upBlockTypes.allSatisfy { ["CrossAttnUpBlock2D", "UpBlock2D"].contains($0) },
             "up_block_types \(upBlockTypes)"),
            (shared.midBlockType == nil || shared.midBlockType == "UNetMidBlock2DCrossAttn", "mid_block_type \(shared.midBlockType ?? "")"),
            (layersPerBlock.values(count: blocks) != nil, "layers_per_block needs one value per block"),
            (crossAttentionDim.values(count: blocks) != nil, "cross_attention_dim needs one value per block"),
            (shared.transformerLayersPerBlock.values(count: blocks) != nil,
             "transformer_layers_per_block needs one value per block"),
            ((shared.numAttentionHeads ?? shared.attentionHeadDim).values(count: blocks) != nil,
             "attention_head_dim needs one value per block"),
            (shared.normNumGroups.map { groups in groups > 0 && shared.blockOutChannels.allSatisfy { $0 % groups == 0 } } ?? false,
             "norm_num_groups \(shared.normNumGroups.map(String.init) ?? "null") does not divide block_out_channels"),
            (shared.actFn == "silu", "act_fn \(shared.actFn)"),
            (onlyCrossAttention.values(count: blocks) != nil, "only_cross_attention needs one value per block"),
            (!dualCrossAttention, "dual_cross_attention"),
            (shared.classEmbedType == nil, "class_embed_type \(shared.classEmbedType ?? "")"),
            (shared.additionEmbedType == nil || shared.additionEmbedType == "text_time",
             "addition_embed_type \(shared.additionEmbedType ?? "")"),
            (shared.additionEmbedType != "text_time"
                || (shared.additionTimeEmbedDim ?? 0) > 0 && (shared.projectionClassEmbeddingsInputDim ?? 0) > 0,
             "addition_embed_type text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim"),
            (timeEmbeddingType == "positional", "time_embedding_type \(timeEmbeddingType)"),
            (timeEmbeddingActFn == nil && timestepPostAct == nil, "extra time-embedding layers"),
            (timeCondProjDim == nil || shared.additionEmbedType == nil,
             "time_cond_proj_dim (a guidance embedding) in an SDXL UNet"),
            (shared.encoderHidDimType == nil, "encoder_hid_dim_type"),
            (attentionType == "default", "attention_type \(attentionType)"),
            (!classEmbeddingsConcat, "class_embeddings_concat"),
            (convInKernel % 2 == 1 && convOutKernel % 2 == 1, "even conv kernel"),
        ]
        return checks.first { !$0.0 }?.1
    }
}
