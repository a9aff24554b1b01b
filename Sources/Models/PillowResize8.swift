import Foundation
import Tensors

/// Pillow's `Image.resize` on 8-bit images (libImaging/Resample.c), bit for bit: separable
/// convolution (horizontal pass, then vertical), coefficients normalised in double precision
/// and then fixed to 22 fractional bits, each pass rounded and clipped to 8 bits.
///
/// Imaging's `Image.resized` follows Pillow's float path; an image processor that resizes
/// 8-bit photos with Pillow needs this one to give the same samples, not ones a level off.
///
/// Limitations: Pillow 13 sometimes runs the vertical pass first when the height shrinks more
/// than the width (its rule is not documented); then a sample may differ by a level. Resizes
/// that keep the aspect ratio, as image processors make them, ran horizontal first in every
/// case tried.
enum PillowResize8 {
    /// The convolution kernels of Pillow's resampling filters.
    enum Filter: Sendable {
        case bilinear, bicubic, lanczos

        var support: Double {
            switch self {
            case .bilinear: return 1
            case .bicubic: return 2
            case .lanczos: return 3
            }
        }

        func weight(_ value: Double) -> Double {
            let x = abs(value)
            switch self {
            case .bilinear:
                return x < 1 ? 1 - x : 0
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            case .lanczos:
                return x < 3 ? sinc(x) * sinc(x / 3) : 0
            }
        }

        private func sinc(_ x: Double) -> Double {
            x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
        }
    }

    static let precisionBits = 32 - 8 - 2

    /// Per output index: the first source index and the fixed-point weights (`precompute_coeffs`
    /// then `normalize_coeffs_8bpc`).
    struct Coefficients {
        var first: [Int] = []
        var weights: [[Int32]] = []
    }

    static func coefficients(inSize: Int, outSize: Int, filter: Filter) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        var result = Coefficients()
        for index in 0..<outSize {
            let center = (Double(index) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inSize) - first
            let inverseScale = 1 / filterScale
            var taps = (0..<count).map { filter.weight((Double($0 + first) - center + 0.5) * inverseScale) }
            let total = taps.reduce(0, +)
            if total != 0 { taps = taps.map { $0 / total } }
            let unit = Double(1 << precisionBits)
            result.first.append(first)
            result.weights.append(taps.map { Int32($0 < 0 ? -0.5 + $0 * unit : 0.5 + $0 * unit) })
        }
        return result
    }

    static func clip8(_ value: Int32) -> UInt8 {
        if value >= Int32(1 << (precisionBits + 8)) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(value >> Int32(precisionBits))
    }

    /// Resizes interleaved 8-bit samples (`channels` per pixel) to `outWidth` x `outHeight`.
    static func resize(_ samples: [UInt8], width: Int, height: Int, channels: Int, outWidth: Int, outHeight: Int,
                       filter: Filter) -> [UInt8] {
        var current = samples
        var currentWidth = width
        if outWidth != width {
            let taps = coefficients(inSize: width, outSize: outWidth, filter: filter)
            current = pass(current, lines: height, inLength: width, outLength: outWidth, channels: channels,
                           horizontal: true, taps: taps)
            currentWidth = outWidth
        }
        if outHeight != height {
            let taps = coefficients(inSize: height, outSize: outHeight, filter: filter)
            current = pass(current, lines: currentWidth, inLength: height, outLength: outHeight, channels: channels,
                           horizontal: false, taps: taps)
        }
        return current
    }

    /// One separable pass: along rows (`horizontal`) or along columns; lines run in parallel.
    private static func pass(_ samples: [UInt8], lines: Int, inLength: Int, outLength: Int, channels: Int,
                             horizontal: Bool, taps: Coefficients) -> [UInt8] {
        // Element strides of the resampled axis and of the line axis, in the input and the output.
        let (inStep, inLine) = horizontal ? (channels, inLength * channels) : (lines * channels, channels)
        let (outStep, outLine) = horizontal ? (channels, outLength * channels) : (lines * channels, channels)
        let half = Int32(1 << (precisionBits - 1))
        var out = [UInt8](repeating: 0, count: lines * outLength * channels)
        out.withUnsafeMutableBufferPointer { output in
            samples.withUnsafeBufferPointer { input in
                Parallel.forEach(count: lines) { line in
                    for index in 0..<outLength {
                        let weights = taps.weights[index]
                        let start = line * inLine + taps.first[index] * inStep
                        for channel in 0..<channels {
                            var sum = half
                            for (offset, weight) in weights.enumerated() {
                                sum &+= Int32(input[start + offset * inStep + channel]) &* weight
                            }
                            output[line * outLine + index * outStep + channel] = clip8(sum)
                        }
                    }
                }
            }
        }
        return out
    }
}
