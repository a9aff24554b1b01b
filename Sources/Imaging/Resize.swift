import Dispatch
import Foundation

/// Resampling kernels, as Pillow defines them (`Image.Resampling`).
public enum ResampleFilter: String, Sendable, CaseIterable {
    /// The source pixel whose area holds the output pixel's centre.
    case nearest
    /// Triangle kernel, support 1.
    case bilinear
    /// Keys cubic convolution with a = -0.5, support 2.
    case bicubic
    /// Lanczos windowed sinc with a = 3, support 3.
    case lanczos3
}

/// How `resized(toFit:_:mode:filter:)` treats an aspect ratio that differs from the box.
public enum ResizeMode: String, Sendable, CaseIterable {
    /// Keep the aspect ratio and fit inside the box (Pillow's `ImageOps.contain`).
    case fit
    /// Keep the aspect ratio, cover the box and crop the centre (Pillow's `ImageOps.fit`).
    case fill
    /// Ignore the aspect ratio and take exactly the box's size.
    case stretch
}

/// A source region in pixel coordinates (0,0 the top-left corner of the top-left pixel),
/// as Pillow's `resize(box:)` takes it; fractional edges are honoured.
public struct ResampleBox: Sendable, Equatable {
    public var x0, y0, x1, y1: Double

    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1)
    }
}

extension Image {
    /// The image resampled to `width` x `height`.
    ///
    /// This matches Pillow's `Image.resize` on float ("F") images: separable (horizontal
    /// pass, then vertical), pixel centres at +0.5, and when downscaling the kernel is
    /// stretched by the scale factor so it averages (antialiases) instead of skipping
    /// pixels. Bicubic and Lanczos overshoot at edges; like Pillow's 8-bit modes, samples
    /// are clamped to 0...1 after each pass. (Pillow's 8-bit modes also round to 8 bits
    /// between passes, so on 8-bit images results differ from theirs by about a level.)
    ///
    /// Limitations: alpha is resampled like a colour channel (not premultiplied, unlike
    /// Pillow on RGBA), so colours of fully transparent pixels bleed into edges.
    /// - Precondition: `width` and `height` are positive.
    public func resized(width: Int, height: Int, filter: ResampleFilter = .lanczos3,
                        box: ResampleBox? = nil) -> Image {
        precondition(width > 0 && height > 0, "resize target must be at least 1x1")
        let region = box ?? ResampleBox(x0: 0, y0: 0, x1: Double(self.width), y1: Double(self.height))
        let horizontal = ResampleWeights(inSize: self.width, from: region.x0, to: region.x1,
                                         outSize: width, filter: filter)
        let vertical = ResampleWeights(inSize: self.height, from: region.y0, to: region.y1,
                                       outSize: height, filter: filter)
        let skipHorizontal = width == self.width && region.x0 == 0 && region.x1 == Double(self.width)
        let skipVertical = height == self.height && region.y0 == 0 && region.y1 == Double(self.height)

        // Only the rows the vertical pass reads need the horizontal pass.
        let rows = skipVertical ? 0..<self.height : vertical.sourceRange
        var middle = skipHorizontal
            ? Array(samples[rows.lowerBound * self.width * channels..<rows.upperBound * self.width * channels])
            : horizontalPass(rows: rows, weights: horizontal)
        let middleWidth = skipHorizontal ? self.width : width
        if !skipVertical {
            middle = Self.verticalPass(middle, rowLength: middleWidth * channels, firstRow: rows.lowerBound,
                                       weights: vertical)
        }
        for index in middle.indices { middle[index] = min(max(middle[index], 0), 1) }
        return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: middle)
    }

    /// The image resized into a `width` x `height` box according to `mode`.
    /// - Precondition: `width` and `height` are positive.
    public func resized(toFit width: Int, _ height: Int, mode: ResizeMode,
                        filter: ResampleFilter = .lanczos3) -> Image {
        switch mode {
        case .stretch:
            return resized(width: width, height: height, filter: filter)
        case .fit:
            let size = containedSize(width, height)
            return resized(width: size.width, height: size.height, filter: filter)
        case .fill:
            return resized(width: width, height: height, filter: filter, box: coveringBox(width, height))
        }
    }

    /// Pillow's `ImageOps.contain` size, with Python's round-half-to-even.
    private func containedSize(_ boxWidth: Int, _ boxHeight: Int) -> (width: Int, height: Int) {
        let imageRatio = Double(width) / Double(height)
        let boxRatio = Double(boxWidth) / Double(boxHeight)
        if imageRatio > boxRatio {
            let scaled = (Double(height) / Double(width) * Double(boxWidth)).rounded(.toNearestOrEven)
            return (boxWidth, max(1, Int(scaled)))
        }
        if imageRatio < boxRatio {
            let scaled = (Double(width) / Double(height) * Double(boxHeight)).rounded(.toNearestOrEven)
            return (max(1, Int(scaled)), boxHeight)
        }
        return (boxWidth, boxHeight)
    }

    /// Pillow's `ImageOps.fit` crop (centred, no bleed): the largest region of the box's
    /// aspect ratio.
    private func coveringBox(_ boxWidth: Int, _ boxHeight: Int) -> ResampleBox {
        let (w, h) = (Double(width), Double(height))
        let imageRatio = w / h
        let boxRatio = Double(boxWidth) / Double(boxHeight)
        var (cropWidth, cropHeight) = (w, h)
        if imageRatio > boxRatio {
            cropWidth = boxRatio * h
        } else if imageRatio < boxRatio {
            cropHeight = w / boxRatio
        }
        let left = (w - cropWidth) * 0.5, top = (h - cropHeight) * 0.5
        return ResampleBox(x0: left, y0: top, x1: left + cropWidth, y1: top + cropHeight)
    }

    // in: [height, self.width, C] (rows `rows` only are read); out: [rows.count, outWidth, C]
    private func horizontalPass(rows: Range<Int>, weights: ResampleWeights) -> [Float] {
        let (inWidth, outWidth, c) = (width, weights.outSize, channels)
        let inRow = inWidth * c, outRow = outWidth * c
        var output = [Float](repeating: 0, count: rows.count * outRow)
        samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let (src, dst) = (input, out)
                Self.forEachRow(rows.count, work: rows.count * outRow * weights.kernelSize) { row in
                    let source = (rows.lowerBound + row) * inRow, target = row * outRow
                    for x in 0..<outWidth {
                        let start = weights.starts[x], taps = weights.counts[x], base = x * weights.kernelSize
                        for channel in 0..<c {
                            var sum: Float = 0
                            for tap in 0..<taps {
                                sum += weights.values[base + tap] * src[source + (start + tap) * c + channel]
                            }
                            dst[target + x * c + channel] = min(max(sum, 0), 1)
                        }
                    }
                }
            }
        }
        return output
    }

    // in: [rows from firstRow, rowLength]; out: [outSize, rowLength]
    private static func verticalPass(_ input: [Float], rowLength: Int, firstRow: Int,
                                     weights: ResampleWeights) -> [Float] {
        var output = [Float](repeating: 0, count: weights.outSize * rowLength)
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let (src, dst) = (source, out)
                forEachRow(weights.outSize, work: weights.outSize * rowLength * weights.kernelSize) { y in
                    let start = weights.starts[y] - firstRow, base = y * weights.kernelSize
                    let target = y * rowLength
                    for tap in 0..<weights.counts[y] {
                        let weight = weights.values[base + tap], row = (start + tap) * rowLength
                        for index in 0..<rowLength { dst[target + index] += weight * src[row + index] }
                    }
                }
            }
        }
        return output
    }

    /// Runs `body` for each row, across cores when the work is worth the threads.
    private static func forEachRow(_ count: Int, work: Int, _ body: @Sendable (Int) -> Void) {
        let chunks = min(count, ProcessInfo.processInfo.activeProcessorCount * 4)
        guard work > 1 << 18, chunks > 1 else {
            for row in 0..<count { body(row) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for row in stride(from: chunk, to: count, by: chunks) { body(row) }
        }
    }
}

/// Per-output-pixel kernel taps along one axis, computed as Pillow's `precompute_coeffs`.
struct ResampleWeights: Sendable {
    let outSize: Int
    /// Taps stored per output pixel (unused ones are zero).
    let kernelSize: Int
    /// First source index of each output pixel's taps.
    let starts: [Int]
    /// Number of taps of each output pixel.
    let counts: [Int]
    /// `outSize * kernelSize` normalised weights.
    let values: [Float]

    init(inSize: Int, from in0: Double, to in1: Double, outSize: Int, filter: ResampleFilter) {
        self.outSize = outSize
        let scale = (in1 - in0) / Double(outSize)
        if filter == .nearest {
            // Pillow resizes with NEAREST through an affine transform: the source pixel
            // under the output pixel's centre.
            kernelSize = 1
            starts = (0..<outSize).map { x in min(max(Int(in0 + (Double(x) + 0.5) * scale), 0), inSize - 1) }
            counts = [Int](repeating: 1, count: outSize)
            values = [Float](repeating: 1, count: outSize)
            return
        }
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var values = [Float](repeating: 0, count: outSize * kernelSize)
        for x in 0..<outSize {
            let center = in0 + (Double(x) + 0.5) * scale
            // Pillow rounds by truncating `+ 0.5` (toward zero), then clips to the image.
            let first = max(Int(center - support + 0.5), 0)
            let last = min(Int(center + support + 0.5), inSize)
            let count = max(last - first, 0)
            var taps = [Double](repeating: 0, count: count)
            for tap in 0..<count {
                taps[tap] = filter.kernel((Double(tap + first) - center + 0.5) / filterScale)
            }
            let total = taps.reduce(0, +)
            for tap in 0..<count {
                values[x * kernelSize + tap] = Float(total != 0 ? taps[tap] / total : taps[tap])
            }
            starts[x] = first
            counts[x] = count
        }
        self.kernelSize = kernelSize
        self.starts = starts
        self.counts = counts
        self.values = values
    }

    /// The source indices any output pixel reads.
    var sourceRange: Range<Int> {
        let first = zip(starts, counts).filter { $0.1 > 0 }.map(\.0).min() ?? 0
        let last = zip(starts, counts).map { $0.0 + $0.1 }.max() ?? 0
        return first..<max(first, last)
    }
}

extension ResampleFilter {
    /// Half-width of the kernel at scale 1.
    var support: Double {
        switch self {
        case .nearest: 0.5
        case .bilinear: 1
        case .bicubic: 2
        case .lanczos3: 3
        }
    }

    /// The kernel, as Pillow's `bilinear_filter`, `bicubic_filter`, `lanczos_filter`.
    func kernel(_ x: Double) -> Double {
        switch self {
        case .nearest:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let t = abs(x)
            return t < 1 ? 1 - t : 0
        case .bicubic:
            let a = -0.5, t = abs(x)
            if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
            if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
            return 0
        case .lanczos3:
            return x >= -3 && x < 3 ? Self.sinc(x) * Self.sinc(x / 3) : 0
        }
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let angle = x * Double.pi
        return sin(angle) / angle
    }
}
