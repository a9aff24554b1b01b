import Foundation
import Tensors

/// transformers' `DepthAnythingDepthEstimationHead`: 3x3 convolution to half the width,
/// bilinear (aligned corners) up to the input's pixel size, 3x3 convolution, ReLU, 1x1
/// convolution to one channel, then ReLU ("relative") or sigmoid ("metric"), times `max_depth`.
public struct DepthAnythingDepthEstimationHead: Sendable {
    let headInIndex: Int
    let patchSize: Int
    let metric: Bool
    let maxDepth: Float
    let conv1, conv2, conv3: Conv2D

    /// `parameters` is the `head` scope.
    public init(_ parameters: Parameters, config: DepthAnythingConfig) throws {
        let features = config.fusionHiddenSize
        headInIndex = config.headInIndex
        patchSize = config.patchSize
        metric = config.depthEstimationType == "metric"
        maxDepth = config.maxDepth
        conv1 = try Conv2D(parameters.scoped("conv1"), inChannels: features, outChannels: features / 2,
                           kernelSize: 3, padding: 1)
        conv2 = try Conv2D(parameters.scoped("conv2"), inChannels: features / 2, outChannels: config.headHiddenSize,
                           kernelSize: 3, padding: 1)
        conv3 = try Conv2D(parameters.scoped("conv3"), inChannels: config.headHiddenSize, outChannels: 1, kernelSize: 1)
    }

    // hiddenStates: the neck's maps, each [B, F, ...] -> [B, patchHeight * p, patchWidth * p]
    public func callAsFunction(_ hiddenStates: [Tensor], patchHeight: Int, patchWidth: Int) -> Tensor {
        let index = headInIndex < 0 ? headInIndex + hiddenStates.count : headInIndex
        let (height, width) = (patchHeight * patchSize, patchWidth * patchSize)
        let upsampled = TorchInterpolate.bilinear(conv1(hiddenStates[index]), height: height, width: width,
                                                  alignCorners: true)
        var depth = conv3(relu(conv2(upsampled)))
        depth = metric ? sigmoid(depth) : relu(depth)
        let batch = depth.shape[0]
        return (depth * maxDepth).reshaped([batch, height, width])
    }

    private func sigmoid(_ x: Tensor) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] = 1 / (1 + exp(-buffer[index])) }
        }
        return y
    }
}
