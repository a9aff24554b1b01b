import Tensors
import Weights

/// What one forward pass of `CLIPTextModelWithProjection` returns, as transformers'
/// `CLIPTextModelOutput`.
public struct CLIPTextModelWithProjectionOutput: Sendable {
    /// The pooled output (the end-of-text token's state) through `text_projection`: [B, projection_dim].
    public let textEmbeds: Tensor
    /// The last layer's output through `final_layer_norm`: [B, L, D].
    public let lastHiddenState: Tensor
    /// The embeddings, then each layer's output (no final norm): `numHiddenLayers + 1` tensors
    /// of [B, L, D], as transformers' `hidden_states`.
    public let hiddenStates: [Tensor]
}

/// transformers' `CLIPTextModelWithProjection`: the text model with a bias-free projection of
/// its pooled output (SDXL's second text encoder, OpenCLIP ViT-bigG, and the refiner's only one).
///
/// Built from a `text_encoder_2` folder: the text model's tensors under `text_model.` (or at
/// the top, as for `CLIPTextModel`) and `text_projection.weight` [projection_dim, hidden].
/// Pooling follows the config's `eos_token_id` exactly as `CLIPTextModel`'s does.
public struct CLIPTextModelWithProjection: PretrainedModel, Sendable {
    public private(set) var textModel: CLIPTextModel
    public let textProjection: Linear

    public var config: CLIPTextConfig { textModel.config }

    /// transformers' default projection width when a config leaves it out.
    static let defaultProjectionDim = 512

    public init(config: CLIPTextConfig, source: any ParameterSource) throws {
        let root = Parameters(source)
        textModel = try CLIPTextModel(config: config, root: root)
        textProjection = try Linear(root.scoped("text_projection"), inFeatures: config.hiddenSize,
                                    outFeatures: config.projectionDim ?? Self.defaultProjectionDim, bias: false)
        try root.checkAllUsed(ignoring: [textModel.positionIDsKey(root)])
    }

    /// This model with `textModel` in place of its own (one with textual inversion rows added),
    /// the projection shared.
    public func replacingTextModel(_ textModel: CLIPTextModel) -> CLIPTextModelWithProjection {
        var copy = self
        copy.textModel = textModel
        return copy
    }

    /// The whole encoder with every hidden state, as `text_encoder_2(ids, output_hidden_states=True)`.
    // ids: B rows of L -> textEmbeds [B, projection_dim], states [B, L, D]
    public func callAsFunction<ID: BinaryInteger>(_ inputIDs: [[ID]]) -> CLIPTextModelWithProjectionOutput {
        let output = textModel(inputIDs, outputHiddenStates: true)
        return CLIPTextModelWithProjectionOutput(textEmbeds: textProjection(output.pooledOutput),
                                                 lastHiddenState: output.lastHiddenState,
                                                 hiddenStates: output.hiddenStates ?? [])
    }
}
