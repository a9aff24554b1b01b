import Foundation
import Tensors

/// transformers' `DepthAnythingReassembleStage`: each backbone map folded into a grid (CLS
/// token dropped), projected to its neck width, and resized by its reassemble factor.
public struct DepthAnythingReassembleStage: Sendable {
    let layers: [DepthAnythingReassembleLayer]

    /// `parameters` is the `neck.reassemble_stage` scope.
    public init(_ parameters: Parameters, config: DepthAnythingConfig) throws {
        layers = try zip(config.neckHiddenSizes, config.reassembleFactors).enumerated().map { index, pair in
            try DepthAnythingReassembleLayer(parameters.scoped("layers.\(index)"), inChannels: config.reassembleHiddenSize,
                                             channels: pair.0, factor: pair.1)
        }
    }

    // hiddenStates: each [B, 1 + h * w, D] -> each [B, channels_i, h * factor_i, w * factor_i]
    public func callAsFunction(_ hiddenStates: [Tensor], patchHeight: Int, patchWidth: Int) -> [Tensor] {
        zip(hiddenStates, layers).map { hidden, layer in
            let (batch, tokens, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
            let grid = hidden.sliced(axis: 1, 1..<tokens).reshaped([batch, patchHeight, patchWidth, width])
            return layer(grid.permuted([0, 3, 1, 2]))
        }
    }
}

/// transformers' `DepthAnythingReassembleLayer`: a 1x1 projection, then a transposed
/// convolution (factor > 1, kernel = stride = factor), nothing (1), or a 3x3 convolution with
/// stride 1/factor (< 1).
struct DepthAnythingReassembleLayer: Sendable {
    enum Resize: Sendable {
        case up(ConvTranspose2D)
        case none
        case down(Conv2D)
    }

    let projection: Conv2D
    let resize: Resize

    static func supports(factor: Double) -> Bool {
        factor > 0 && (factor <= 1 || factor == factor.rounded())
    }

    init(_ parameters: Parameters, inChannels: Int, channels: Int, factor: Double) throws {
        projection = try Conv2D(parameters.scoped("projection"), inChannels: inChannels, outChannels: channels, kernelSize: 1)
        let scope = parameters.scoped("resize")
        if factor > 1 {
            resize = .up(try ConvTranspose2D(scope, inChannels: channels, outChannels: channels, kernelSize: Int(factor),
                                             stride: Int(factor)))
        } else if factor == 1 {
            resize = .none
        } else {
            resize = .down(try Conv2D(scope, inChannels: channels, outChannels: channels, kernelSize: 3,
                                      stride: Int(1 / factor), padding: 1))
        }
    }

    // x: [B, D, h, w] -> [B, channels, h', w']
    func callAsFunction(_ x: Tensor) -> Tensor {
        let projected = projection(x)
        switch resize {
        case let .up(convolution): return convolution(projected)
        case .none: return projected
        case let .down(convolution): return convolution(projected)
        }
    }
}
