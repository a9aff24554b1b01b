import Foundation
import Tensors

/// transformers' `DepthAnythingFeatureFusionStage`: the maps fused from the coarsest up, each
/// layer adding the next finer map and resizing to the size of the one after it.
public struct DepthAnythingFeatureFusionStage: Sendable {
    let layers: [DepthAnythingFeatureFusionLayer]

    /// `parameters` is the `neck.fusion_stage` scope.
    public init(_ parameters: Parameters, config: DepthAnythingConfig) throws {
        layers = try (0..<config.neckHiddenSizes.count).map { index in
            try DepthAnythingFeatureFusionLayer(parameters.scoped("layers.\(index)"), channels: config.fusionHiddenSize)
        }
    }

    /// Every fused map, coarsest first (the last is the finest, at twice the finest input).
    // hiddenStates: finest first, each [B, F, h_i, w_i] -> each [B, F, ...]
    public func callAsFunction(_ hiddenStates: [Tensor]) -> [Tensor] {
        let coarseFirst = Array(hiddenStates.reversed())
        var fused: [Tensor] = []
        for (index, (hidden, layer)) in zip(coarseFirst, layers).enumerated() {
            let size = index + 1 < coarseFirst.count
                ? (coarseFirst[index + 1].shape[2], coarseFirst[index + 1].shape[3]) : nil
            if let previous = fused.last {
                fused.append(layer(previous, residual: hidden, size: size))
            } else {
                fused.append(layer(hidden, residual: nil, size: size))
            }
        }
        return fused
    }
}

/// transformers' `DepthAnythingFeatureFusionLayer`.
struct DepthAnythingFeatureFusionLayer: Sendable {
    let projection: Conv2D
    let residualLayer1, residualLayer2: DepthAnythingPreActResidualLayer

    init(_ parameters: Parameters, channels: Int) throws {
        projection = try Conv2D(parameters.scoped("projection"), inChannels: channels, outChannels: channels, kernelSize: 1)
        residualLayer1 = try DepthAnythingPreActResidualLayer(parameters.scoped("residual_layer1"), channels: channels)
        residualLayer2 = try DepthAnythingPreActResidualLayer(parameters.scoped("residual_layer2"), channels: channels)
    }

    /// `hidden` plus the refined `residual` (resized bilinearly to it if needed), refined again,
    /// resized bilinearly with aligned corners to `size` (twice the size when nil), projected.
    // hidden: [B, F, h, w], residual: [B, F, h', w'] -> [B, F, size or 2h x 2w]
    func callAsFunction(_ hidden: Tensor, residual: Tensor?, size: (Int, Int)?) -> Tensor {
        var state = hidden
        if var residual {
            if residual.shape != hidden.shape {
                residual = TorchInterpolate.bilinear(residual, height: hidden.shape[2], width: hidden.shape[3],
                                                     alignCorners: false)
            }
            state = state + residualLayer1(residual)
        }
        state = residualLayer2(state)
        let (height, width) = size ?? (state.shape[2] * 2, state.shape[3] * 2)
        return projection(TorchInterpolate.bilinear(state, height: height, width: width, alignCorners: true))
    }
}

/// transformers' `DepthAnythingPreActResidualLayer`: x + conv2(relu(conv1(relu(x)))), 3x3 convolutions.
struct DepthAnythingPreActResidualLayer: Sendable {
    let convolution1, convolution2: Conv2D

    init(_ parameters: Parameters, channels: Int) throws {
        convolution1 = try Conv2D(parameters.scoped("convolution1"), inChannels: channels, outChannels: channels,
                                  kernelSize: 3, padding: 1)
        convolution2 = try Conv2D(parameters.scoped("convolution2"), inChannels: channels, outChannels: channels,
                                  kernelSize: 3, padding: 1)
    }

    // x: [B, F, h, w] -> [B, F, h, w]
    func callAsFunction(_ x: Tensor) -> Tensor {
        convolution2(relu(convolution1(relu(x)))) + x
    }
}
