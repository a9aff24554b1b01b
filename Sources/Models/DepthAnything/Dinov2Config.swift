import Foundation
import Tensors

/// The `backbone_config` of a Depth Anything `config.json`: transformers' `Dinov2Config`
/// (models/dinov2/configuration_dinov2.py), with its keys and defaults.
public struct Dinov2Config: KeyedConfig, Sendable, Equatable {
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

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("hidden_size", \.hiddenSize),
            .key("num_hidden_layers", \.numHiddenLayers),
            .key("num_attention_heads", \.numAttentionHeads),
            .key("mlp_ratio", \.mlpRatio),
            .key("hidden_act", \.hiddenAct),
            .key("layer_norm_eps", \.layerNormEps),
            .key("image_size", \.imageSize),
            .key("patch_size", \.patchSize),
            .key("num_channels", \.numChannels),
            .key("qkv_bias", \.qkvBias),
            .key("layerscale_value", \.layerscaleValue),
            .key("use_swiglu_ffn", \.useSwigluFfn),
            .key("out_features", \.outFeatures),
            .key("out_indices", \.outIndices),
            .key("apply_layernorm", \.applyLayernorm),
            .key("reshape_hidden_states", \.reshapeHiddenStates),
            .key("use_mask_token", \.useMaskToken),
        ]
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
