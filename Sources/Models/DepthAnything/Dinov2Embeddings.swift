import Foundation
import Tensors

/// transformers' `Dinov2Embeddings`: the CLS token, then one token per 14x14 patch, plus
/// position embeddings resized to the input's patch grid.
///
/// Limitations: no `bool_masked_pos` (the mask token is read, as the checkpoint holds it, and unused).
public struct Dinov2Embeddings: Sendable {
    public let patchSize: Int
    /// `patch_embeddings.projection`: a stride-`patchSize` convolution.
    let projection: Conv2D
    let clsToken: Tensor
    /// [1, 1 + (imageSize / patchSize)^2, D], for a square grid.
    let positionEmbeddings: Tensor
    let hiddenSize: Int

    public init(_ parameters: Parameters, config: Dinov2Config) throws {
        let width = config.hiddenSize
        let side = config.imageSize / config.patchSize
        patchSize = config.patchSize
        hiddenSize = width
        projection = try Conv2D(parameters.scoped("patch_embeddings.projection"), inChannels: config.numChannels,
                                outChannels: width, kernelSize: config.patchSize, stride: config.patchSize)
        clsToken = try parameters.tensor("cls_token", shape: [1, 1, width])
        if config.useMaskToken { _ = try parameters.tensor("mask_token", shape: [1, width]) }
        positionEmbeddings = try parameters.tensor("position_embeddings", shape: [1, side * side + 1, width])
    }

    // pixelValues: [B, C, H, W] (H, W multiples of the patch size) -> [B, 1 + (H/p)(W/p), D]
    public func callAsFunction(_ pixelValues: Tensor) -> Tensor {
        let (batch, height, width) = (pixelValues.shape[0], pixelValues.shape[2], pixelValues.shape[3])
        let grid = projection(pixelValues)  // [B, D, H/p, W/p]
        let patches = grid.reshaped([batch, hiddenSize, grid.shape[2] * grid.shape[3]]).transposed(1, 2)
        let cls = Tensor.concatenate([Tensor](repeating: clsToken, count: batch), axis: 0)
        let tokens = Tensor.concatenate([cls, patches], axis: 1)
        return tokens + positionEncoding(height: height, width: width)
    }

    /// transformers' `interpolate_pos_encoding`: the trained grid as is when the input is square
    /// with as many patches, else its patch part resized bicubically (align_corners=False, by
    /// `size`) to the input's grid, the CLS position kept.
    // -> [1, 1 + (height/p)(width/p), D]
    public func positionEncoding(height: Int, width: Int) -> Tensor {
        let positions = positionEmbeddings.shape[1] - 1
        let (rows, columns) = (height / patchSize, width / patchSize)
        if rows * columns == positions && height == width { return positionEmbeddings }
        let side = Int(Double(positions).squareRoot())
        let grid = positionEmbeddings.sliced(axis: 1, 1..<positions + 1)
            .reshaped([1, side, side, hiddenSize]).permuted([0, 3, 1, 2])
        let resized = TorchInterpolate.bicubic(grid, height: rows, width: columns)
        let patches = resized.permuted([0, 2, 3, 1]).reshaped([1, rows * columns, hiddenSize])
        return Tensor.concatenate([positionEmbeddings.sliced(axis: 1, 0..<1), patches], axis: 1)
    }
}
