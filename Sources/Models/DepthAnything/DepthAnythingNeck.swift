import Foundation
import Tensors

/// transformers' `DepthAnythingNeck` (DPT's): reassemble the backbone maps into a pyramid,
/// bring each to the fusion width with a 3x3 convolution (no bias), and fuse them.
public struct DepthAnythingNeck: Sendable {
    let reassembleStage: DepthAnythingReassembleStage
    let convs: [Conv2D]
    let fusionStage: DepthAnythingFeatureFusionStage

    /// `parameters` is the `neck` scope.
    public init(_ parameters: Parameters, config: DepthAnythingConfig) throws {
        reassembleStage = try DepthAnythingReassembleStage(parameters.scoped("reassemble_stage"), config: config)
        convs = try config.neckHiddenSizes.enumerated().map { index, channels in
            try Conv2D(parameters.scoped("convs.\(index)"), inChannels: channels, outChannels: config.fusionHiddenSize,
                       kernelSize: 3, padding: 1, bias: false)
        }
        fusionStage = try DepthAnythingFeatureFusionStage(parameters.scoped("fusion_stage"), config: config)
    }

    /// The fused maps, coarsest first.
    // hiddenStates: each [B, 1 + h * w, D] -> each [B, F, ...]
    public func callAsFunction(_ hiddenStates: [Tensor], patchHeight: Int, patchWidth: Int) -> [Tensor] {
        let pyramid = reassembleStage(hiddenStates, patchHeight: patchHeight, patchWidth: patchWidth)
        return fusionStage(zip(pyramid, convs).map { feature, conv in conv(feature) })
    }
}
