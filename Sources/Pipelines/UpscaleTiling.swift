import Foundation
import Tensors

/// A rectangle of an image or tensor, in pixels: columns `x..<x+width`, rows `y..<y+height`.
struct TileRect: Equatable, Sendable {
    var x: Int, y: Int, width: Int, height: Int

    func scaled(by factor: Int) -> TileRect {
        TileRect(x: x * factor, y: y * factor, width: width * factor, height: height * factor)
    }

    /// This rectangle of an NCHW tensor.
    // tensor: [N, C, H, W] -> [N, C, height, width]
    func crop(_ tensor: Tensor) -> Tensor {
        tensor.sliced(axis: 2, y..<(y + height)).sliced(axis: 3, x..<(x + width))
    }
}

/// Overlapping tiles covering a `width` x `height` image: along each side, tiles of `tileSize`
/// start every `tileSize - overlap` pixels and the last one is moved back to end at the edge.
/// A side no longer than the tile is one tile of the whole side.
struct UpscaleTiling: Sendable {
    let tiles: [TileRect]

    /// `tileSize` is rounded down to a multiple of `multiple` (at least one multiple); 0 means
    /// no tiling. `overlap` is clamped below half a tile so only neighbours overlap.
    init(width: Int, height: Int, tileSize: Int, overlap: Int, multiple: Int) {
        let side = tileSize <= 0 ? max(width, height) : max(multiple, tileSize - tileSize % multiple)
        let shared = max(0, min(overlap, (side - 1) / 2))
        let columns = Self.spans(length: width, tile: side, overlap: shared)
        let rows = Self.spans(length: height, tile: side, overlap: shared)
        tiles = rows.flatMap { row in
            columns.map { column in TileRect(x: column.lowerBound, y: row.lowerBound,
                                             width: column.count, height: row.count) }
        }
    }

    static func spans(length: Int, tile: Int, overlap: Int) -> [Range<Int>] {
        guard length > tile else { return [0..<length] }
        let stride = tile - overlap
        let count = (length - overlap + stride - 1) / stride
        return (0..<count).map { index in
            let start = index == count - 1 ? length - tile : index * stride
            return start..<(start + tile)
        }
    }
}

/// Accumulates decoded tiles into one image, each weighted by a linear ramp that falls to zero
/// across every edge it shares with another tile, then normalises by the summed weights: in an
/// overlap the tiles cross-fade, elsewhere a tile's pixels are kept as they are.
struct TileBlend {
    let width: Int
    let height: Int
    /// Every tile of the layout, in output pixels: a tile's ramps depend on its neighbours.
    let tiles: [TileRect]
    private var sum: [Float]
    private var weights: [Float]
    private var whole: Tensor?

    init(width: Int, height: Int, tiles: [TileRect]) {
        self.width = width
        self.height = height
        self.tiles = tiles
        let single = tiles == [TileRect(x: 0, y: 0, width: width, height: height)]
        sum = single ? [] : [Float](repeating: 0, count: 3 * width * height)
        weights = single ? [] : [Float](repeating: 0, count: width * height)
    }

    // decoded: [1, 3, tile.height, tile.width]
    mutating func add(_ decoded: Tensor, tile: TileRect) {
        guard !sum.isEmpty else {
            whole = decoded
            return
        }
        let columnWeights = ramp(length: tile.width, start: tile.x, along: \.x, \.width, across: \.y, \.height, of: tile)
        let rowWeights = ramp(length: tile.height, start: tile.y, along: \.y, \.height, across: \.x, \.width, of: tile)
        let plane = width * height, tilePlane = tile.width * tile.height
        decoded.withUnsafeBufferPointer { values in
            for row in 0..<tile.height {
                for column in 0..<tile.width {
                    let weight = rowWeights[row] * columnWeights[column]
                    let target = (tile.y + row) * width + tile.x + column
                    weights[target] += weight
                    for channel in 0..<3 {
                        sum[channel * plane + target] += weight * values[channel * tilePlane + row * tile.width + column]
                    }
                }
            }
        }
    }

    /// The blended image.
    // -> [1, 3, height, width]
    func result() -> Tensor {
        if let whole { return whole }
        let plane = width * height
        return Tensor(shape: [1, 3, height, width]) { out in
            for channel in 0..<3 {
                for pixel in 0..<plane {
                    out[channel * plane + pixel] = sum[channel * plane + pixel] / max(weights[pixel], .leastNormalMagnitude)
                }
            }
        }
    }

    /// Weights along one axis of `tile`: 1 inside, falling linearly towards 0 over the part it
    /// shares with a tile before (or after) it on this axis that also overlaps it on the other.
    private func ramp(length: Int, start: Int, along position: KeyPath<TileRect, Int>, _ size: KeyPath<TileRect, Int>,
                      across crossPosition: KeyPath<TileRect, Int>, _ crossSize: KeyPath<TileRect, Int>,
                      of tile: TileRect) -> [Float] {
        let end = start + length
        var before = 0, after = 0
        for other in tiles where other != tile {
            let crossStart = other[keyPath: crossPosition], crossEnd = crossStart + other[keyPath: crossSize]
            guard crossStart < tile[keyPath: crossPosition] + tile[keyPath: crossSize],
                  tile[keyPath: crossPosition] < crossEnd else { continue }
            let otherStart = other[keyPath: position], otherEnd = otherStart + other[keyPath: size]
            if otherStart < start, otherEnd > start { before = max(before, otherEnd - start) }
            if otherEnd > end, otherStart < end { after = max(after, end - otherStart) }
        }
        return (0..<length).map { index in
            var weight: Float = 1
            if before > 0 { weight = min(weight, (Float(index) + 0.5) / Float(before)) }
            if after > 0 { weight = min(weight, (Float(length - index) - 0.5) / Float(after)) }
            return weight
        }
    }
}
