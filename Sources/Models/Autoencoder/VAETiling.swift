import Tensors

/// diffusers' VAE tiling (`tiled_encode` / `tiled_decode`): overlapping tiles run separately,
/// each blended linearly into the tiles above and to its left, then cropped and stitched.
public struct VAETiling: Sendable, Equatable {
    /// `tile_sample_min_size`: the tile side in pixels.
    public var sampleTileSize: Int
    /// `tile_latent_min_size`: the tile side in latents.
    public var latentTileSize: Int
    /// `tile_overlap_factor`.
    public var overlapFactor: Double

    public init(sampleTileSize: Int, latentTileSize: Int, overlapFactor: Double = 0.25) {
        self.sampleTileSize = sampleTileSize
        self.latentTileSize = latentTileSize
        self.overlapFactor = overlapFactor
    }

    /// Runs `body` on tiles of `inputTile` (stepping by its non-overlapping part), blends its
    /// `outputTile`-sized results, and stitches them. As in diffusers, each tile is blended in
    /// place, so a later tile blends with its neighbours' already-blended values.
    // x: [N, C, H, W] -> [N, C', H * s, W * s] where s = outputTile / inputTile
    func run(_ x: Tensor, inputTile: Int, outputTile: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        let step = max(1, Int(Double(inputTile) * (1 - overlapFactor)))
        let blendExtent = Int(Double(outputTile) * overlapFactor)
        let rowLimit = outputTile - blendExtent
        let (height, width) = (x.shape[2], x.shape[3])
        var tiles: [[Tensor]] = stride(from: 0, to: height, by: step).map { top in
            let band = x.sliced(axis: 2, top..<min(height, top + inputTile))
            return stride(from: 0, to: width, by: step).map { left in
                body(band.sliced(axis: 3, left..<min(width, left + inputTile)))
            }
        }
        for row in tiles.indices {
            for column in tiles[row].indices {
                if row > 0 { blendVertical(tiles[row - 1][column], into: &tiles[row][column], extent: blendExtent) }
                if column > 0 { blendHorizontal(tiles[row][column - 1], into: &tiles[row][column], extent: blendExtent) }
            }
        }
        let rows = tiles.map { row in
            Tensor.concatenate(row.map { cropped($0, to: rowLimit) }, axis: 3)
        }
        return Tensor.concatenate(rows, axis: 2)
    }

    /// `tile[:, :, :limit, :limit]`.
    private func cropped(_ tile: Tensor, to limit: Int) -> Tensor {
        tile.sliced(axis: 2, 0..<min(limit, tile.shape[2])).sliced(axis: 3, 0..<min(limit, tile.shape[3]))
    }
}

/// diffusers' `blend_v`: the first rows of `below` fade in from the last rows of `above`.
// above: [N, C, Ha, W], below: [N, C, Hb, W] (same N, C, W)
func blendVertical(_ above: Tensor, into below: inout Tensor, extent: Int) {
    let extent = min(above.shape[2], below.shape[2], extent)
    let (planes, width) = (below.shape[0] * below.shape[1], below.shape[3])
    let (aboveHeight, belowHeight) = (above.shape[2], below.shape[2])
    precondition(above.shape[3] == width && above.shape[0] * above.shape[1] == planes,
                 "blend_v: \(above.shape) does not line up with \(below.shape)")
    above.withUnsafeBufferPointer { source in
        below.withUnsafeMutableBufferPointer { target in
            for plane in 0..<planes {
                for y in 0..<extent {
                    let (keep, fade) = blendWeights(y, extent)
                    let sourceRow = (plane * aboveHeight + aboveHeight - extent + y) * width
                    let targetRow = (plane * belowHeight + y) * width
                    for x in 0..<width {
                        target[targetRow + x] = source[sourceRow + x] * fade + target[targetRow + x] * keep
                    }
                }
            }
        }
    }
}

/// diffusers' `blend_h`: the first columns of `right` fade in from the last columns of `left`.
// left: [N, C, H, Wl], right: [N, C, H, Wr] (same N, C, H)
func blendHorizontal(_ left: Tensor, into right: inout Tensor, extent: Int) {
    let extent = min(left.shape[3], right.shape[3], extent)
    let rows = right.shape[0] * right.shape[1] * right.shape[2]
    let (leftWidth, rightWidth) = (left.shape[3], right.shape[3])
    precondition(left.shape[0] * left.shape[1] * left.shape[2] == rows,
                 "blend_h: \(left.shape) does not line up with \(right.shape)")
    left.withUnsafeBufferPointer { source in
        right.withUnsafeMutableBufferPointer { target in
            for row in 0..<rows {
                for x in 0..<extent {
                    let (keep, fade) = blendWeights(x, extent)
                    target[row * rightWidth + x] = source[row * leftWidth + leftWidth - extent + x] * fade
                        + target[row * rightWidth + x] * keep
                }
            }
        }
    }
}

/// Weights of step `index` of a blend over `extent`: (the new tile's, the old tile's), computed
/// in double as Python does, then used in f32 as torch does.
private func blendWeights(_ index: Int, _ extent: Int) -> (keep: Float, fade: Float) {
    let ratio = Double(index) / Double(extent)
    return (Float(ratio), Float(1 - ratio))
}
