import Foundation

/// The MLP activation a CLIP text encoder uses, by its transformers `hidden_act` name.
public enum CLIPTextActivation: String, Codable, Sendable {
    /// x * sigmoid(1.702 x): OpenAI CLIP (SD 1.x).
    case quickGELU = "quick_gelu"
    /// Exact (erf) GELU: OpenCLIP ViT-H (SD 2.x).
    case gelu
}

/// transformers' `CLIPTextConfig`, read from a text encoder's `config.json`.
///
/// Keys missing from the file take transformers' defaults, as `from_pretrained` does;
/// unknown keys (dropout rates, initialiser settings, labels...) are ignored. Sizes that cannot
/// make a model are a decoding error, so `load(from:)` names the file.
public struct CLIPTextConfig: ModelConfig, KeyedConfig, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = CLIPTextActivation.quickGELU
    public var layerNormEps = 1e-5
    /// Width of `CLIPTextModelWithProjection`'s projection; unused by the plain text model.
    public var projectionDim: Int? = 512
    public var padTokenId: Int? = 1
    public var bosTokenId: Int? = 49406
    /// 2 in configs written before transformers PR #24773 (SD 1.x, SD 2.x): pooling then takes
    /// the position of the largest id instead of the first `eosTokenId`.
    public var eosTokenId: Int? = 49407

    public init() {}

    public init(
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
        maxPositionEmbeddings: Int, hiddenAct: CLIPTextActivation, layerNormEps: Double, projectionDim: Int?,
        padTokenId: Int?, bosTokenId: Int?, eosTokenId: Int?
    ) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.projectionDim = projectionDim
        self.padTokenId = padTokenId
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    public static var keys: [ConfigKey<Self>] {
        [
            .key("vocab_size", \.vocabSize),
            .key("hidden_size", \.hiddenSize),
            .key("intermediate_size", \.intermediateSize),
            .key("num_hidden_layers", \.numHiddenLayers),
            .key("num_attention_heads", \.numAttentionHeads),
            .key("max_position_embeddings", \.maxPositionEmbeddings),
            .key("hidden_act", \.hiddenAct),
            .key("layer_norm_eps", \.layerNormEps),
            .key("projection_dim", \.projectionDim),
            .key("pad_token_id", \.padTokenId),
            .key("bos_token_id", \.bosTokenId),
            .key("eos_token_id", \.eosTokenId),
        ]
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        try decodeKeys(from: decoder)
        if let problem = unsupportedFeature {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: problem))
        }
    }

    /// Why these sizes cannot make a model, or nil when they can.
    public var unsupportedFeature: String? {
        let sizes = [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                     ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                     ("max_position_embeddings", maxPositionEmbeddings)]
        if let (name, value) = sizes.first(where: { $0.1 <= 0 }) {
            return "\(name) must be positive, got \(value)"
        }
        if hiddenSize % numAttentionHeads != 0 {
            return "hidden_size \(hiddenSize) does not split into \(numAttentionHeads) attention heads"
        }
        return nil
    }

    /// Pooling takes the argmax of the ids (pre-#24773 configs) rather than the first eos.
    var poolsAtLargestID: Bool { eosTokenId == 2 }
}
