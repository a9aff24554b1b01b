import Foundation
import Tensors

/// The `backbone_config` of a Depth Anything `config.json`: transformers' `Dinov2Config`
/// (models/dinov2/configuration_dinov2.py), with its keys and defaults.
public struct Dinov2Config: Codable, Sendable, Equatable {
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var mlpRatio = 4
    public var hiddenAct = "gelu"
    public var layerNormEps: Float = 1e-6
    /// The size the position embeddings were trained at (they cover (imageSize / patchSize)^2 patches).
    public var imageSize = 224
    public var patchSize = 14
    public var numChannels = 3
    public var qkvBias = true
    public var layerscaleValue: Float = 1
    public var useSwigluFfn = false
    /// Stage names ("stem", "stage1"...) whose hidden states the backbone returns.
    public var outFeatures: [String]?
    /// Indices into the stage names (0 is the embeddings); negative ones count from the end.
    public var outIndices: [Int]?
    public var applyLayernorm = true
    public var reshapeHiddenStates = true
    public var useMaskToken = true

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case mlpRatio = "mlp_ratio"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case numChannels = "num_channels"
        case qkvBias = "qkv_bias"
        case layerscaleValue = "layerscale_value"
        case useSwigluFfn = "use_swiglu_ffn"
        case outFeatures = "out_features"
        case outIndices = "out_indices"
        case applyLayernorm = "apply_layernorm"
        case reshapeHiddenStates = "reshape_hidden_states"
        case useMaskToken = "use_mask_token"
    }

    public init() {}

    /// Missing keys take transformers' defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(.hiddenSize, default: hiddenSize)
        numHiddenLayers = try c.decode(.numHiddenLayers, default: numHiddenLayers)
        numAttentionHeads = try c.decode(.numAttentionHeads, default: numAttentionHeads)
        mlpRatio = try c.decode(.mlpRatio, default: mlpRatio)
        hiddenAct = try c.decode(.hiddenAct, default: hiddenAct)
        layerNormEps = try c.decode(.layerNormEps, default: layerNormEps)
        imageSize = try c.decode(.imageSize, default: imageSize)
        patchSize = try c.decode(.patchSize, default: patchSize)
        numChannels = try c.decode(.numChannels, default: numChannels)
        qkvBias = try c.decode(.qkvBias, default: qkvBias)
        layerscaleValue = try c.decode(.layerscaleValue, default: layerscaleValue)
        useSwigluFfn = try c.decode(.useSwigluFfn, default: useSwigluFfn)
        outFeatures = try c.decodeIfPresent([String].self, forKey: .outFeatures)
        outIndices = try c.decodeIfPresent([Int].self, forKey: .outIndices)
        applyLayernorm = try c.decode(.applyLayernorm, default: applyLayernorm)
        reshapeHiddenStates = try c.decode(.reshapeHiddenStates, default: reshapeHiddenStates)
        useMaskToken = try c.decode(.useMaskToken, default: useMaskToken)
    }

    /// The names transformers gives the backbone's stages: the embeddings, then each layer.
    public var stageNames: [String] { ["stem"] + (1...max(1, numHiddenLayers)).map { "stage\($0)" } }

    /// The stages returned, as indices into `stageNames` in stage order (transformers walks the
    /// stages and keeps those named): `out_indices`, else `out_features`, else the last stage.
    public var outputStages: [Int] {
        let names = stageNames
        let picked: [Int]
        if let outIndices {
            picked = outIndices.map { $0 < 0 ? $0 + names.count : $0 }
        } else if let outFeatures {
            picked = outFeatures.compactMap { names.firstIndex(of: $0) }
        } else {
            picked = [names.count - 1]
        }
        return Set(picked).sorted()
    }

    /// Why this implementation cannot run the config, or nil.
    var unsupportedFeature: String? {
        let stages = stageNames.count
        if numHiddenLayers < 1 { return "num_hidden_layers \(numHiddenLayers)" }
        if numAttentionHeads < 1 || hiddenSize % numAttentionHeads != 0 {
            return "hidden_size \(hiddenSize) does not split into \(numAttentionHeads) heads"
        }
        if useSwigluFfn { return "use_swiglu_ffn (the SwiGLU MLP of the giant models)" }
        if gelu == nil { return "hidden_act '\(hiddenAct)'" }
        if patchSize < 1 || imageSize < patchSize { return "image_size \(imageSize) with patch_size \(patchSize)" }
        if let outIndices, outIndices.contains(where: { $0 >= stages || $0 < -stages }) {
            return "out_indices \(outIndices) outside the \(stages) stages"
        }
        if let outFeatures, outFeatures.contains(where: { !stageNames.contains($0) }) {
            return "out_features \(outFeatures) are not all stage names"
        }
        return nil
    }

    /// transformers' ACT2FN entries that are GELUs, by their torch approximation.
    var gelu: GELUApproximation? {
        switch hiddenAct {
        case "gelu": return GELUApproximation.none
        case "gelu_new", "gelu_pytorch_tanh": return .tanh
        default: return nil
        }
    }
}
