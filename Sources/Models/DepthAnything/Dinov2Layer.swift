import Foundation
import Tensors

/// transformers' `Dinov2Layer` (the original's `Block`): pre-norm attention and MLP, each
/// branch scaled per channel by its layer scale (`lambda1`) before the residual add.
public struct Dinov2Layer: Sendable {
    let norm1, norm2: LayerNorm
    let attention: Dinov2Attention
    let layerScale1, layerScale2: Tensor
    let fc1, fc2: Linear
    let activation: GELUApproximation

    public init(_ parameters: Parameters, config: Dinov2Config) throws {
        let width = config.hiddenSize
        let hidden = width * config.mlpRatio
        norm1 = try LayerNorm(parameters.scoped("norm1"), width: width, eps: config.layerNormEps)
        norm2 = try LayerNorm(parameters.scoped("norm2"), width: width, eps: config.layerNormEps)
        attention = try Dinov2Attention(parameters.scoped("attention"), config: config)
        layerScale1 = try parameters.tensor("layer_scale1.lambda1", shape: [width])
        layerScale2 = try parameters.tensor("layer_scale2.lambda1", shape: [width])
        fc1 = try Linear(parameters.scoped("mlp.fc1"), inFeatures: width, outFeatures: hidden)
        fc2 = try Linear(parameters.scoped("mlp.fc2"), inFeatures: hidden, outFeatures: width)
        activation = config.gelu ?? .none
    }

    // x: [B, L, D] -> [B, L, D]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var hidden = x + attention(norm1(x)) * layerScale1
        hidden += fc2(gelu(fc1(norm2(hidden)), approximation: activation)) * layerScale2
        return hidden
    }
}
