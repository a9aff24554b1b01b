import Foundation
import Weights

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
/// unknown keys (dropout rates, initialiser settings, labels...) are ignored.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
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
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? defaults.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? defaults.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? defaults.intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? defaults.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? defaults.numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
            ?? defaults.maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(CLIPTextActivation.self, forKey: .hiddenAct) ?? defaults.hiddenAct
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? defaults.layerNormEps
        // An explicit null means "none", so only an absent key takes the default.
        projectionDim = c.contains(.projectionDim)
            ? try c.decodeIfPresent(Int.self, forKey: .projectionDim) : defaults.projectionDim
        padTokenId = c.contains(.padTokenId) ? try c.decodeIfPresent(Int.self, forKey: .padTokenId) : defaults.padTokenId
        bosTokenId = c.contains(.bosTokenId) ? try c.decodeIfPresent(Int.self, forKey: .bosTokenId) : defaults.bosTokenId
        eosTokenId = c.contains(.eosTokenId) ? try c.decodeIfPresent(Int.self, forKey: .eosTokenId) : defaults.eosTokenId
    }

    /// Reads and checks `config.json`; every problem is a `WeightsError.badConfig` naming the file.
    public init(contentsOf url: URL) throws {
        let data: Data
        guard FileManager.default.fileExists(atPath: url.path) else { throw WeightsError.fileNotFound(path: url.path) }
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw WeightsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        do {
            self = try JSONDecoder().decode(CLIPTextConfig.self, from: data)
        } catch let error as DecodingError {
            throw WeightsError.badConfig(path: url.path, detail: Self.describe(error))
        }
        if let problem = validationProblem {
            throw WeightsError.badConfig(path: url.path, detail: problem)
        }
    }

    /// Why these sizes cannot make a model, or nil when they can.
    public var validationProblem: String? {
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

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .keyNotFound(_, context),
             let .dataCorrupted(context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return key.isEmpty ? context.debugDescription : "'\(key)': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
