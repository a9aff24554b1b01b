import Foundation
import Tensors

/// transformers' `Dinov2Attention`: multi-head self-attention, softmax(q k^T / sqrt(d)) v.
///
/// Reads either checkpoint layout: the hub's (`attention.query`, `output.dense`, as
/// Depth-Anything-V2-*-hf and transformers' `save_pretrained` write them) or the in-memory
/// one of transformers 5 (`q_proj`, `o_proj`).
public struct Dinov2Attention: Sendable {
    let query, key, value, output: Linear
    let heads: Int

    /// `parameters` is the layer's `attention` scope.
    public init(_ parameters: Parameters, config: Dinov2Config) throws {
        let width = config.hiddenSize
        let hub = !parameters.contains("q_proj.weight")
        func projection(_ hubName: String, _ name: String, bias: Bool) throws -> Linear {
            try Linear(parameters.scoped(hub ? hubName : name), inFeatures: width, outFeatures: width, bias: bias)
        }
        query = try projection("attention.query", "q_proj", bias: config.qkvBias)
        key = try projection("attention.key", "k_proj", bias: config.qkvBias)
        value = try projection("attention.value", "v_proj", bias: config.qkvBias)
        output = try projection("output.dense", "o_proj", bias: true)
        heads = config.numAttentionHeads
    }

    // x: [B, L, D] -> [B, L, D]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        output(attention(query(x), key(x), value(x), heads: heads))
    }
}
