import Foundation
import Tensors

/// torch.nn.functional.interpolate in the two modes Depth Anything uses, on NCHW tensors.
///
/// Source coordinates follow torch's `area_pixel_compute_source_index` in f32: with
/// `align_corners` the corners map onto each other (scale (in - 1) / (out - 1)); without it
/// pixel centres do (scale in / out, offset by half a pixel). Passing `size` and passing an
/// exact `scale_factor` give the same scales, so both calls are covered.
enum TorchInterpolate {
    /// mode="bilinear": the source is clamped at 0, the upper neighbour at the last pixel.
    // x: [N, C, H, W] -> [N, C, height, width]
    static func bilinear(_ x: Tensor, height: Int, width: Int, alignCorners: Bool) -> Tensor {
        let rows = linearTaps(input: x.shape[2], output: height, alignCorners: alignCorners)
        let columns = linearTaps(input: x.shape[3], output: width, alignCorners: alignCorners)
        return resample(x, height: height, width: width, rows: rows, columns: columns)
    }

    /// mode="bicubic" (align_corners=False as transformers calls it): Keys' cubic convolution
    /// with a = -0.75, unclamped source coordinates, taps clamped to the border.
    // x: [N, C, H, W] -> [N, C, height, width]
    static func bicubic(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let rows = cubicTaps(input: x.shape[2], output: height)
        let columns = cubicTaps(input: x.shape[3], output: width)
        return resample(x, height: height, width: width, rows: rows, columns: columns)
    }

    /// Per output index: the source indices and their weights.
    struct Taps {
        var indices: [[Int]]
        var weights: [[Float]]
    }

    static func scale(input: Int, output: Int, alignCorners: Bool) -> Float {
        if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
        return Float(input) / Float(output)
    }

    static func linearTaps(input: Int, output: Int, alignCorners: Bool) -> Taps {
        let ratio = scale(input: input, output: output, alignCorners: alignCorners)
        var taps = Taps(indices: [], weights: [])
        for index in 0..<output {
            let source = alignCorners ? ratio * Float(index) : max(ratio * (Float(index) + 0.5) - 0.5, 0)
            let low = min(Int(source), input - 1)
            let high = low + (low < input - 1 ? 1 : 0)
            let fraction = source - Float(low)
            taps.indices.append([low, high])
            taps.weights.append([1 - fraction, fraction])
        }
        return taps
    }

    static func cubicTaps(input: Int, output: Int) -> Taps {
        let ratio = scale(input: input, output: output, alignCorners: false)
        var taps = Taps(indices: [], weights: [])
        for index in 0..<output {
            let source = ratio * (Float(index) + 0.5) - 0.5
            let floorIndex = Int(source.rounded(.down))
            let t = source - Float(floorIndex)
            taps.indices.append((0..<4).map { min(max(floorIndex - 1 + $0, 0), input - 1) })
            taps.weights.append(cubicWeights(t))
        }
        return taps
    }

    /// torch's `get_cubic_upsample_coefficients` with A = -0.75.
    static func cubicWeights(_ t: Float) -> [Float] {
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    /// Applies the row and column taps to every plane (the 2-D sum, as torch forms it).
    static func resample(_ x: Tensor, height: Int, width: Int, rows: Taps, columns: Taps) -> Tensor {
        precondition(x.rank == 4, "interpolate needs [N, C, H, W], got \(x.shape)")
        let (planes, inHeight, inWidth) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [x.shape[0], x.shape[1], height, width]) { out in
            x.withUnsafeBufferPointer { input in
                Parallel.forEach(count: planes) { plane in
                    let source = plane * inHeight * inWidth
                    let target = plane * height * width
                    for y in 0..<height {
                        let rowIndices = rows.indices[y], rowWeights = rows.weights[y]
                        for x in 0..<width {
                            let columnIndices = columns.indices[x], columnWeights = columns.weights[x]
                            var sum: Float = 0
                            for (row, rowWeight) in zip(rowIndices, rowWeights) {
                                var line: Float = 0
                                for (column, columnWeight) in zip(columnIndices, columnWeights) {
                                    line += columnWeight * input[source + row * inWidth + column]
                                }
                                sum += rowWeight * line
                            }
                            out[target + y * width + x] = sum
                        }
                    }
                }
            }
        }
    }
}
