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
public struct CLIPTextConfig: ModelConfig, Codable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: CLIPTextActivation
    public var layerNormEps: Double
    /// Width of `CLIPTextModelWithProjection`'s projection; unused by the plain text model.
    public var projectionDim: Int?
    public var padTokenId: Int?
    public var bosTokenId: Int?
    /// 2 in configs written before transformers PR #24773 (SD 1.x, SD 2.x): pooling then takes
    /// the position of the largest id instead of the first `eosTokenId`.
    public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case projectionDim = "projection_dim"
        case padTokenId = "pad_token_id"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    public init(
        vocabSize: Int = 49408, hiddenSize: Int = 512, intermediateSize: Int = 2048, numHiddenLayers: Int = 12,
        numAttentionHeads: Int = 8, maxPositionEmbeddings: Int = 77, hiddenAct: CLIPTextActivation = .quickGELU,
        layerNormEps: Double = 1e-5, projectionDim: Int? = 512, padTokenId: Int? = 1, bosTokenId: Int? = 49406,
        eosTokenId: Int? = 49407
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

    public init(from decoder: any Decoder) throws {
        let defaults = CLIPTextConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(.vocabSize, default: defaults.vocabSize)
        hiddenSize = try c.decode(.hiddenSize, default: defaults.hiddenSize)
        intermediateSize = try c.decode(.intermediateSize, default: defaults.intermediateSize)
        numHiddenLayers = try c.decode(.numHiddenLayers, default: defaults.numHiddenLayers)
        numAttentionHeads = try c.decode(.numAttentionHeads, default: defaults.numAttentionHeads)
        maxPositionEmbeddings = try c.decode(.maxPositionEmbeddings, default: defaults.maxPositionEmbeddings)
        hiddenAct = try c.decode(.hiddenAct, default: defaults.hiddenAct)
        layerNormEps = try c.decode(.layerNormEps, default: defaults.layerNormEps)
        projectionDim = try c.decodeNullable(.projectionDim, default: defaults.projectionDim)
        padTokenId = try c.decodeNullable(.padTokenId, default: defaults.padTokenId)
        bosTokenId = try c.decodeNullable(.bosTokenId, default: defaults.bosTokenId)
        eosTokenId = try c.decodeNullable(.eosTokenId, default: defaults.eosTokenId)
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
