/// A rectangle of an image or tensor, in pixels: columns `x..<x+width`, rows `y..<y+height`.
public struct TileRect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public func scaled(by factor: Int) -> TileRect {
        TileRect(x: x * factor, y: y * factor, width: width * factor, height: height * factor)
    }

    /// This rectangle of an NCHW tensor.
    // tensor: [N, C, H, W] -> [N, C, height, width]
    public func crop(_ tensor: Tensor) -> Tensor {
        tensor.sliced(axis: 2, y..<(y + height)).sliced(axis: 3, x..<(x + width))
    }
}

/// Where the tiles of a tiled model run lie on an image, and how their overlaps are blended:
/// pure geometry, shared by the VAE's tiling and the upscalers'. Tiles form a grid: every
/// row span crossed with every column span, in raster order.
public struct TileLayout: Equatable, Sendable {
    /// What happens to the last tile of a side where the tiles do not fit exactly.
    public enum LastTile: Sendable {
        /// Cut at the edge: it is shorter than the others.
        case cut
        /// Moved back to end at the edge: it is as long as the others, and overlaps its
        /// neighbour by more.
        case endAligned
    }

    /// Column ranges `x..<x+width`, left to right.
    public let columns: [Range<Int>]
    /// Row ranges `y..<y+height`, top to bottom.
    public let rows: [Range<Int>]

    public init(columns: [Range<Int>], rows: [Range<Int>]) {
        self.columns = columns
        self.rows = rows
    }

    /// The upscalers' layout: along each side, tiles of `tile` every `tile - overlap` pixels,
    /// as many as it takes to reach the edge (`overlap` less than `tile`). A side no longer
    /// than the tile, or a `tile` of 0, is one tile of the whole side.
    public init(width: Int, height: Int, tile: Int, overlap: Int, lastTile: LastTile) {
        self.init(columns: Self.spans(length: width, tile: tile, overlap: overlap, lastTile: lastTile),
                  rows: Self.spans(length: height, tile: tile, overlap: overlap, lastTile: lastTile))
    }

    /// diffusers' VAE layout (`tiled_encode` / `tiled_decode`): a tile of `tile` at every
    /// multiple of `stride` below the side, cut at the edge.
    public init(width: Int, height: Int, tile: Int, stride: Int) {
        self.init(columns: Self.spans(length: width, tile: tile, stride: stride),
                  rows: Self.spans(length: height, tile: tile, stride: stride))
    }

    /// One side of `init(width:height:tile:overlap:lastTile:)`.
    public static func spans(length: Int, tile: Int, overlap: Int, lastTile: LastTile) -> [Range<Int>] {
        guard tile > 0, length > tile else { return [0..<length] }
        let stride = tile - overlap
        let count = (length - overlap + stride - 1) / stride
        return (0..<count).map { index in
            let start = index == count - 1 && lastTile == .endAligned ? length - tile : index * stride
            return start..<min(length, start + tile)
        }
    }

    /// One side of `init(width:height:tile:stride:)`.
    public static func spans(length: Int, tile: Int, stride: Int) -> [Range<Int>] {
        Swift.stride(from: 0, to: length, by: stride).map { $0..<min(length, $0 + tile) }
    }

    /// Every tile, row by row.
    public var tiles: [TileRect] {
        rows.flatMap { row in
            columns.map { column in
                TileRect(x: column.lowerBound, y: row.lowerBound, width: column.count, height: row.count)
            }
        }
    }

    /// The same layout `factor` times larger (a network's input tiles as its output tiles).
    public func scaled(by factor: Int) -> TileLayout {
        let scale = { (span: Range<Int>) in (span.lowerBound * factor)..<(span.upperBound * factor) }
        return TileLayout(columns: columns.map(scale), rows: rows.map(scale))
    }

    /// The upscalers' cross-fade along one side: for span `index` of `spans`, a weight per
    /// pixel that is 1 inside and falls linearly towards 0 across the part it shares with the
    /// span before it and the span after it, pixel-centred (`(i + 0.5) / overlap`). Where two
    /// neighbours overlap, their weights sum to 1 when the overlap is the same from both sides.
    public static func crossFade(_ spans: [Range<Int>], index: Int) -> [Float] {
        let span = spans[index]
        let before = index > 0 ? max(0, spans[index - 1].upperBound - span.lowerBound) : 0
        let after = index + 1 < spans.count ? max(0, span.upperBound - spans[index + 1].lowerBound) : 0
        return (0..<span.count).map { position in
            var weight: Float = 1
            if before > 0 { weight = min(weight, (Float(position) + 0.5) / Float(before)) }
            if after > 0 { weight = min(weight, (Float(span.count - position) - 0.5) / Float(after)) }
            return weight
        }
    }

    /// diffusers' `blend_v` / `blend_h` weights at step `index` of a blend over `extent`:
    /// (the later tile's, the earlier tile's), computed in double as Python does, then used in
    /// f32 as torch does.
    public static func diffusersBlend(_ index: Int, extent: Int) -> (keep: Float, fade: Float) {
        let ratio = Double(index) / Double(extent)
        return (Float(ratio), Float(1 - ratio))
    }
}
