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
        let layout = TileLayout(width: x.shape[3], height: x.shape[2], tile: inputTile, stride: step)
        var tiles: [[Tensor]] = layout.rows.map { rows in
            let band = x.sliced(axis: 2, rows)
            return layout.columns.map { columns in body(band.sliced(axis: 3, columns)) }
        }
        for row in tiles.indices {
            for column in tiles[row].indices {
                if row > 0 { blendEdge(tiles[row - 1][column], into: &tiles[row][column], axis: 2, extent: blendExtent) }
                if column > 0 {
                    blendEdge(tiles[row][column - 1], into: &tiles[row][column], axis: 3, extent: blendExtent)
                }
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

/// diffusers' `blend_v` (`axis` 2) and `blend_h` (`axis` 3): the first rows (columns) of
/// `later` fade in from the last rows (columns) of `earlier`, the tile above (to the left).
// earlier: [N, C, He, We], later: [N, C, Hl, Wl], equal but along `axis`
func blendEdge(_ earlier: Tensor, into later: inout Tensor, axis: Int, extent: Int) {
    let extent = min(earlier.shape[axis], later.shape[axis], extent)
    // Both as [outer, length along axis, inner]: the blend runs over the middle index.
    let outer = later.shape[..<axis].reduce(1, *), inner = later.shape[(axis + 1)...].reduce(1, *)
    let (earlierLength, laterLength) = (earlier.shape[axis], later.shape[axis])
    precondition(earlier.shape[..<axis].reduce(1, *) == outer && earlier.shape[(axis + 1)...].reduce(1, *) == inner,
                 "blend along axis \(axis): \(earlier.shape) does not line up with \(later.shape)")
    earlier.withUnsafeBufferPointer { source in
        later.withUnsafeMutableBufferPointer { target in
            for block in 0..<outer {
                for index in 0..<extent {
                    let (keep, fade) = TileLayout.diffusersBlend(index, extent: extent)
                    let sourceStart = (block * earlierLength + earlierLength - extent + index) * inner
                    let targetStart = (block * laterLength + index) * inner
                    for offset in 0..<inner {
                        target[targetStart + offset] = source[sourceStart + offset] * fade
                            + target[targetStart + offset] * keep
                    }
                }
            }
        }
    }
}
