import Foundation
import Tensors

/// transformers' `Dinov2Backbone`: the ViT's embeddings and layers, returning the hidden
/// states of the configured stages (stage 0 the embeddings, stage i layer i's output), each
/// through the final layer norm when `apply_layernorm` is set.
///
/// The maps stay token sequences with the CLS token first (`reshape_hidden_states` false, as
/// Depth Anything configures it); the neck drops the CLS token and folds them into grids.
public struct Dinov2Backbone: Sendable {
    public let config: Dinov2Config
    let embeddings: Dinov2Embeddings
    let layers: [Dinov2Layer]
    let layernorm: LayerNorm

    /// `parameters` is the `backbone` scope.
    public init(_ parameters: Parameters, config: Dinov2Config) throws {
        self.config = config
        embeddings = try Dinov2Embeddings(parameters.scoped("embeddings"), config: config)
        layers = try (0..<config.numHiddenLayers).map { index in
            try Dinov2Layer(parameters.scoped("encoder.layer.\(index)"), config: config)
        }
        layernorm = try LayerNorm(parameters.scoped("layernorm"), width: config.hiddenSize, eps: config.layerNormEps)
    }

    /// The feature maps of `config.outputStages`, in stage order. Layers past the last one used are not run.
    // pixelValues: [B, C, H, W] -> each [B, 1 + (H/p)(W/p), D]
    public func callAsFunction(_ pixelValues: Tensor) -> [Tensor] {
        let stages = config.outputStages
        var hidden = embeddings(pixelValues)
        var maps: [Tensor] = []
        for stage in 0...(stages.last ?? 0) {
            if stage > 0 { hidden = layers[stage - 1](hidden) }
            if stages.contains(stage) { maps.append(config.applyLayernorm ? layernorm(hidden) : hidden) }
        }
        return maps
    }
}
