import Foundation

/// The `config.json` of a Depth Anything model: transformers' `DepthAnythingConfig`
/// (models/depth_anything/configuration_depth_anything.py), with its keys and defaults. The
/// backbone defaults are those transformers fills in for a Dinov2 backbone (ViT-S at 518).
public struct DepthAnythingConfig: ModelConfig, KeyedConfig, Equatable {
    /// A named backbone (timm, ...) instead of `backbone_config`; not supported.
    public var backbone: String?
    public var backboneConfig = DepthAnythingConfig.defaultBackbone
    public var patchSize = 14
    /// The backbone width the reassemble projections read.
    public var reassembleHiddenSize = 384
    /// Per feature map: > 1 a transposed convolution up by it, 1 nothing, < 1 a strided convolution down.
    public var reassembleFactors: [Double] = [4, 2, 1, 0.5]
    public var neckHiddenSizes = [48, 96, 192, 384]
    public var fusionHiddenSize = 64
    public var headInIndex = -1
    public var headHiddenSize = 32
    /// "relative" (ReLU output) or "metric" (sigmoid times `maxDepth`).
    public var depthEstimationType = "relative"
    /// transformers multiplies the head's output by it in both modes; a null reads as 1.
    public var maxDepth: Float = 1

    /// transformers' `sub_configs_defaults` for the Dinov2 backbone.
    public static var defaultBackbone: Dinov2Config {
        var backbone = Dinov2Config()
        backbone.imageSize = 518
        backbone.hiddenSize = 384
        backbone.numAttentionHeads = 6
        backbone.outIndices = [9, 10, 11, 12]
        backbone.reshapeHiddenStates = false
        return backbone
    }

    public init() {}

    public static var keys: [ConfigKey<Self>] {
        [
            .key("backbone", \.backbone),
            .key("backbone_config", \.backboneConfig),
            .key("patch_size", \.patchSize),
            .key("reassemble_hidden_size", \.reassembleHiddenSize),
            .key("reassemble_factors", \.reassembleFactors),
            .key("neck_hidden_sizes", \.neckHiddenSizes),
            .key("fusion_hidden_size", \.fusionHiddenSize),
            .key("head_in_index", \.headInIndex),
            .key("head_hidden_size", \.headHiddenSize),
            .key("depth_estimation_type", \.depthEstimationType),
            .key("max_depth", \.maxDepth),
        ]
    }

    /// Why this implementation cannot run the config, or nil.
    public var unsupportedFeature: String? {
        if let backbone { return "named backbone '\(backbone)'; only a Dinov2 backbone_config" }
        if let problem = backboneConfig.unsupportedFeature { return "backbone_config: \(problem)" }
        let stages = backboneConfig.outputStages.count
        if neckHiddenSizes.count != stages || reassembleFactors.count != stages {
            return "\(stages) backbone outputs for \(neckHiddenSizes.count) neck_hidden_sizes and \(reassembleFactors.count) reassemble_factors"
        }
        if reassembleHiddenSize != backboneConfig.hiddenSize {
            return "reassemble_hidden_size \(reassembleHiddenSize) differs from the backbone's hidden_size \(backboneConfig.hiddenSize)"
        }
        if let factor = reassembleFactors.first(where: { !DepthAnythingReassembleLayer.supports(factor: $0) }) {
            return "reassemble factor \(factor) (an integer, 1, or 1/n)"
        }
        if !(-stages..<stages).contains(headInIndex) { return "head_in_index \(headInIndex)" }
        if !["relative", "metric"].contains(depthEstimationType) { return "depth_estimation_type '\(depthEstimationType)'" }
        if patchSize != backboneConfig.patchSize {
            return "patch_size \(patchSize) differs from the backbone's \(backboneConfig.patchSize)"
        }
        return nil
    }
}
