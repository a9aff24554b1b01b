import Foundation
import Tensors

/// Accumulates decoded tiles into one image, each weighted by the layout's cross-fade
/// (`TileLayout.crossFade`: a linear ramp that falls to zero across every edge it shares with
/// another tile), then normalises by the summed weights: in an overlap the tiles cross-fade,
/// elsewhere a tile's pixels are kept as they are.
struct TileBlend {
    /// The layout in output pixels.
    let layout: TileLayout
    private let width: Int
    private let height: Int
    private var sum: [Float]
    private var weights: [Float]
    private var whole: Tensor?

    init(layout: TileLayout) {
        self.layout = layout
        width = layout.columns.last?.upperBound ?? 0
        height = layout.rows.last?.upperBound ?? 0
        let single = layout.columns.count == 1 && layout.rows.count == 1
        sum = single ? [] : [Float](repeating: 0, count: 3 * width * height)
        weights = single ? [] : [Float](repeating: 0, count: width * height)
    }

    /// Adds tile `index` of the layout (in its raster order).
    // decoded: [1, 3, tile height, tile width]
    mutating func add(_ decoded: Tensor, tile index: Int) {
        guard !sum.isEmpty else {
            whole = decoded
            return
        }
        let (row, column) = index.quotientAndRemainder(dividingBy: layout.columns.count)
        let (rows, columns) = (layout.rows[row], layout.columns[column])
        let rowWeights = TileLayout.crossFade(layout.rows, index: row)
        let columnWeights = TileLayout.crossFade(layout.columns, index: column)
        let plane = width * height, tilePlane = rows.count * columns.count
        decoded.withUnsafeBufferPointer { values in
            for y in 0..<rows.count {
                for x in 0..<columns.count {
                    let weight = rowWeights[y] * columnWeights[x]
                    let target = (rows.lowerBound + y) * width + columns.lowerBound + x
                    weights[target] += weight
                    for channel in 0..<3 {
                        sum[channel * plane + target] += weight * values[channel * tilePlane + y * columns.count + x]
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
}
