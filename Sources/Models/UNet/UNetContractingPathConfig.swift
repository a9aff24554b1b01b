import Foundation

/// The `config.json` keys a UNet and the ControlNets made from it share, with diffusers' keys and
/// defaults: what `ControlNetModel.from_unet` copies (time embedding, conv_in, down and mid
/// blocks, added embeddings). Both configs read them through this one table, so a new option of
/// the contracting path is read, and reaches the ControlNet's UNet, in one place.
///
/// `layers_per_block`, `cross_attention_dim` and `only_cross_attention` are not here: the UNet
/// takes them per block, the ControlNet (as diffusers') once for every block.
public struct UNetContractingPathConfig: KeyedConfig, Sendable, Equatable {
    public typealias PerBlock = UNet2DConditionConfig.PerBlock

    public var inChannels = 4
    public var flipSinToCos = true
    public var freqShift: Float = 0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Float = 1
    public var actFn = "silu"
    public var normNumGroups: Int? = 32
    public var normEps: Float = 1e-5
    public var transformerLayersPerBlock = PerBlock<Int>.shared(1)
    public var encoderHidDimType: String?
    /// diffusers' naming quirk: for these models this is the number of heads, not their width.
    public var attentionHeadDim = PerBlock<Int>.shared(8)
    public var numAttentionHeads: PerBlock<Int>?
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

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("in_channels", \.inChannels),
            .key("flip_sin_to_cos", \.flipSinToCos),
            .key("freq_shift", \.freqShift),
            .key("down_block_types", \.downBlockTypes),
            .key("mid_block_type", \.midBlockType),
            .key("block_out_channels", \.blockOutChannels),
            .key("downsample_padding", \.downsamplePadding),
            .key("mid_block_scale_factor", \.midBlockScaleFactor),
            .key("act_fn", \.actFn),
            .key("norm_num_groups", \.normNumGroups),
            .key("norm_eps", \.normEps),
            .key("transformer_layers_per_block", \.transformerLayersPerBlock),
            .key("encoder_hid_dim_type", \.encoderHidDimType),
            .key("attention_head_dim", \.attentionHeadDim),
            .key("num_attention_heads", \.numAttentionHeads),
            .key("use_linear_projection", \.useLinearProjection),
            .key("class_embed_type", \.classEmbedType),
            .key("num_class_embeds", \.numClassEmbeds),
            .key("addition_embed_type", \.additionEmbedType),
            .key("addition_time_embed_dim", \.additionTimeEmbedDim),
            .key("projection_class_embeddings_input_dim", \.projectionClassEmbeddingsInputDim),
            .key("upcast_attention", \.upcastAttention),
            .key("resnet_time_scale_shift", \.resnetTimeScaleShift),
        ]
    }
}

/// A config holding a `UNetContractingPathConfig`, whose fields it shows as its own
/// (`config.blockOutChannels`), so call sites read the same whether or not a field is shared.
public protocol HasContractingPath {
    var contractingPath: UNetContractingPathConfig { get set }
}

extension HasContractingPath {
    public subscript<Value>(dynamicMember field: WritableKeyPath<UNetContractingPathConfig, Value>) -> Value {
        get { contractingPath[keyPath: field] }
        set { contractingPath[keyPath: field] = newValue }
    }
}
