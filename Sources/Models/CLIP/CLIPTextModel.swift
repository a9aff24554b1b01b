import Tensors
import Weights

/// What one forward pass of `CLIPTextModel` returns, as transformers' `BaseModelOutputWithPooling`.
public struct CLIPTextModelOutput: Sendable {
    /// The last layer's output through `final_layer_norm`: [B, L, D].
    public let lastHiddenState: Tensor
    /// `lastHiddenState` at each prompt's end-of-text token: [B, D].
    public let pooledOutput: Tensor
    /// When asked for: the embeddings, then each layer's output (no final norm), so
    /// `numHiddenLayers + 1` tensors of [B, L, D], as transformers' `hidden_states`.
    public let hiddenStates: [Tensor]?
}

/// transformers' `CLIPTextModel` (the text encoder of Stable Diffusion 1.x and 2.x).
///
/// Built from a `text_encoder` folder's `config.json` and `model.safetensors`. The tensors may
/// carry the `text_model.` prefix (as SD checkpoints on the hub do) or not (as transformers 5
/// saves them); either way the file must hold exactly the model's tensors (the
/// `position_ids` buffer aside), with exactly its shapes.
public struct CLIPTextModel: PretrainedModel, Sendable {
    public let config: CLIPTextConfig
    private var tokenEmbedding: Tensor
    private let positionEmbedding: Tensor
    private let layers: [CLIPEncoderLayer]
    private let finalLayerNorm: LayerNorm

    /// The module diffusers-era checkpoints put every tensor under (`text_model.embeddings...`).
    public static let legacyModule = "text_model"

    /// Builds the model from weights with transformers' names (with or without the
    /// `text_model.` prefix), which must match `config` exactly.
    public init(config: CLIPTextConfig, source: any ParameterSource) throws {
        let root = Parameters(source)
        try self.init(config: config, root: root)
        try root.checkAllUsed(ignoring: [positionIDsKey(root)])
    }

    /// Reads the text model's tensors from `root` (a model with more modules, such as
    /// `CLIPTextModelWithProjection`, reads its own and checks that every tensor was used).
    init(config: CLIPTextConfig, root: Parameters) throws {
        try config.checkSupported(weightsPath: root.source.path)
        let parameters = Self.textModelParameters(root)
        let width = config.hiddenSize
        self.config = config
        tokenEmbedding = try parameters.tensor("embeddings.token_embedding.weight", shape: [config.vocabSize, width])
        positionEmbedding = try parameters.tensor("embeddings.position_embedding.weight",
                                                  shape: [config.maxPositionEmbeddings, width])
        layers = try (0..<config.numHiddenLayers).map { index in
            try CLIPEncoderLayer(parameters.scoped("encoder.layers.\(index)"), config: config)
        }
        finalLayerNorm = try LayerNorm(parameters.scoped("final_layer_norm"), width: width, eps: Float(config.layerNormEps))
    }

    /// The text model's view of `root`: under `text_model.` when the checkpoint uses that prefix.
    static func textModelParameters(_ root: Parameters) -> Parameters {
        let prefixed = root.source.keys.contains { $0.hasPrefix(root.key(legacyModule) + ".") }
        return prefixed ? root.scoped(legacyModule) : root
    }

    /// The `position_ids` buffer some checkpoints carry, which the model does not need.
    func positionIDsKey(_ root: Parameters) -> String {
        Self.textModelParameters(root).key("embeddings.position_ids")
    }

    /// How many token embeddings the model has: the id an added token's first vector gets.
    public var tokenEmbeddingCount: Int { tokenEmbedding.shape[0] }

    /// This model with `rows` appended to its token embeddings, for the ids a tokenizer's added
    /// tokens get (textual inversion: transformers' `resize_token_embeddings` then the rows set).
    // rows: [added, hidden]
    public func addingTokenEmbeddings(_ rows: Tensor) -> CLIPTextModel {
        precondition(rows.rank == 2 && rows.shape[1] == config.hiddenSize, "embeddings \(rows.shape) for width \(config.hiddenSize)")
        var copy = self
        copy.tokenEmbedding = Tensor(shape: [tokenEmbedding.shape[0] + rows.shape[0], config.hiddenSize],
                                     scalars: tokenEmbedding.scalars + rows.scalars)
        return copy
    }

    /// Runs the whole encoder on a batch of equally long id sequences (77 for SD tokenizers).
    public func callAsFunction<ID: BinaryInteger>(
        _ inputIDs: [[ID]], outputHiddenStates: Bool = false
    ) -> CLIPTextModelOutput {
        let ids = tokenRows(inputIDs)
        var hidden = embed(ids)
        var states = outputHiddenStates ? [hidden] : []
        for layer in layers {
            hidden = layer(hidden)
            if outputHiddenStates { states.append(hidden) }
        }
        let last = finalLayerNorm(hidden)
        return CLIPTextModelOutput(
            lastHiddenState: last, pooledOutput: pool(last, ids: ids), hiddenStates: outputHiddenStates ? states : nil)
    }

    /// The prompt embeddings diffusers' `encode_prompt` makes: with `clipSkip` k, the state
    /// `hidden_states[-(k + 1)]` (the output of layer `numHiddenLayers - k`; k = 1 is the
    /// penultimate layer) through `final_layer_norm`; without it (or with 0), `lastHiddenState`.
    /// Layers past the one used are not run.
    public func promptEmbeddings<ID: BinaryInteger>(_ inputIDs: [[ID]], clipSkip: Int? = nil) -> Tensor {
        let skip = clipSkip ?? 0
        precondition((0...config.numHiddenLayers).contains(skip),
                     "clipSkip \(skip) is outside 0...\(config.numHiddenLayers)")
        var hidden = embed(tokenRows(inputIDs))
        for layer in layers.dropLast(skip) { hidden = layer(hidden) }
        return finalLayerNorm(hidden)
    }

    /// transformers' `hidden_states[-(clipSkip + 2)]`: the output of layer
    /// `numHiddenLayers - 1 - clipSkip`, without `final_layer_norm`, which is what SDXL's
    /// `encode_prompt` takes (clipSkip 0 = the penultimate layer). Layers past it are not run.
    // -> [B, L, D]
    public func penultimateHiddenState<ID: BinaryInteger>(_ inputIDs: [[ID]], clipSkip: Int = 0) -> Tensor {
        precondition((0..<config.numHiddenLayers).contains(clipSkip),
                     "clipSkip \(clipSkip) is outside 0..<\(config.numHiddenLayers)")
        var hidden = embed(tokenRows(inputIDs))
        for layer in layers.dropLast(1 + clipSkip) { hidden = layer(hidden) }
        return hidden
    }

    /// The ids as `Int` rows, checked against the vocabulary and the position table.
    private func tokenRows<ID: BinaryInteger>(_ inputIDs: [[ID]]) -> [[Int]] {
        let rows = inputIDs.map { $0.map { Int($0) } }
        let length = rows.first?.count ?? 0
        precondition(!rows.isEmpty && rows.allSatisfy { $0.count == length },
                     "CLIPTextModel needs a non-empty batch of equally long id sequences")
        precondition(length <= config.maxPositionEmbeddings,
                     "sequence length \(length) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        let vocabulary = tokenEmbedding.shape[0]
        precondition(rows.allSatisfy { $0.allSatisfy { (0..<vocabulary).contains($0) } },
                     "token id outside the vocabulary of \(vocabulary)")
        return rows
    }

    /// Token embedding plus position embedding: [B, L, D].
    private func embed(_ ids: [[Int]]) -> Tensor {
        let width = config.hiddenSize
        let length = ids[0].count
        return Tensor(shape: [ids.count, length, width]) { out in
            tokenEmbedding.withUnsafeBufferPointer { tokens in
                positionEmbedding.withUnsafeBufferPointer { positions in
                    for (row, sequence) in ids.enumerated() {
                        for (position, id) in sequence.enumerated() {
                            let target = (row * length + position) * width
                            for column in 0..<width {
                                out[target + column] = tokens[id * width + column] + positions[position * width + column]
                            }
                        }
                    }
                }
            }
        }
    }

    /// Each row of `last` at its end-of-text token: the first largest id for configs with the
    /// old `eos_token_id == 2`, else the first `eos_token_id` (position 0 when there is none),
    /// as transformers picks it.
    private func pool(_ last: Tensor, ids: [[Int]]) -> Tensor {
        let width = config.hiddenSize
        let length = ids[0].count
        let positions = ids.map { sequence -> Int in
            // torch.argmax gives the first of equal maxima (SD 1.x pads with eos, the largest id).
            let target = config.poolsAtLargestID ? sequence.max() : config.eosTokenId
            return sequence.firstIndex { $0 == target } ?? 0
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(ids.count * width)
        for (row, position) in positions.enumerated() {
            let start = (row * length + position) * width
            scalars.append(contentsOf: last.scalars[start ..< start + width])
        }
        return Tensor(shape: [ids.count, width], scalars: scalars)
    }
}

/// CLIP's multi-head self-attention, with the causal mask the text model always applies.
private struct CLIPAttention {
    let query, key, value, output: Linear
    let heads: Int

    init(_ parameters: Parameters, width: Int, heads: Int) throws {
        query = try Linear(parameters.scoped("q_proj"), inFeatures: width, outFeatures: width)
        key = try Linear(parameters.scoped("k_proj"), inFeatures: width, outFeatures: width)
        value = try Linear(parameters.scoped("v_proj"), inFeatures: width, outFeatures: width)
        output = try Linear(parameters.scoped("out_proj"), inFeatures: width, outFeatures: width)
        self.heads = heads
    }

    // x: [B, L, D] -> [B, L, D]
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (batch, length, width) = (x.shape[0], x.shape[1], x.shape[2])
        let headWidth = width / heads
        // [B, L, H*d] -> [B, H, L, d] (keys as [B, H, d, L]): at 77 tokens a batched matmul is
        // cheaper than anything chunked, and the whole score matrix is tiny.
        let split = [batch, length, heads, headWidth]
        let queries = query(x).reshaped(split).permuted([0, 2, 1, 3])
        let keysTransposed = key(x).reshaped(split).permuted([0, 2, 3, 1])
        let values = value(x).reshaped(split).permuted([0, 2, 1, 3])
        var scores = matmul(queries, keysTransposed) * (1 / Float(headWidth).squareRoot())
        Self.maskFuturePositions(&scores, length: length)
        let mixed = matmul(softmax(scores), values).permuted([0, 2, 1, 3]).reshaped([batch, length, width])
        return output(mixed)
    }

    /// Sets every score of a query against a later key to -inf, so softmax gives it weight 0.
    // scores: [..., L, L]
    private static func maskFuturePositions(_ scores: inout Tensor, length: Int) {
        let matrices = scores.count / (length * length)
        scores.withUnsafeMutableBufferPointer { buffer in
            for matrix in 0..<matrices {
                for row in 0..<length {
                    let start = (matrix * length + row) * length
                    for column in (row + 1)..<length { buffer[start + column] = -.infinity }
                }
            }
        }
    }
}

/// fc1, activation, fc2.
private struct CLIPMLP {
    let fc1, fc2: Linear
    let activation: CLIPTextActivation

    init(_ parameters: Parameters, width: Int, intermediate: Int, activation: CLIPTextActivation) throws {
        fc1 = try Linear(parameters.scoped("fc1"), inFeatures: width, outFeatures: intermediate)
        fc2 = try Linear(parameters.scoped("fc2"), inFeatures: intermediate, outFeatures: width)
        self.activation = activation
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let hidden = fc1(x)
        switch activation {
        case .quickGELU: return fc2(quickGELU(hidden))
        case .gelu: return fc2(gelu(hidden))
        }
    }
}

/// Pre-norm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)).
private struct CLIPEncoderLayer {
    let layerNorm1, layerNorm2: LayerNorm
    let selfAttention: CLIPAttention
    let mlp: CLIPMLP

    init(_ parameters: Parameters, config: CLIPTextConfig) throws {
        let (width, eps) = (config.hiddenSize, Float(config.layerNormEps))
        layerNorm1 = try LayerNorm(parameters.scoped("layer_norm1"), width: width, eps: eps)
        selfAttention = try CLIPAttention(parameters.scoped("self_attn"), width: width, heads: config.numAttentionHeads)
        layerNorm2 = try LayerNorm(parameters.scoped("layer_norm2"), width: width, eps: eps)
        mlp = try CLIPMLP(parameters.scoped("mlp"), width: width, intermediate: config.intermediateSize,
                          activation: config.hiddenAct)
    }

    // x: [B, L, D] -> [B, L, D]
    func callAsFunction(_ x: Tensor) -> Tensor {
        var hidden = x
        hidden += selfAttention(layerNorm1(x))
        hidden += mlp(layerNorm2(hidden))
        return hidden
    }
}
