import Foundation

/// A one-channel mask in 0...1 (1 = edit / remove, 0 = keep), one value per pixel, rows top to bottom.
///
/// A pixel is *marked* when its value is nonzero at 8 bits (`round(v * 255) != 0`), which is
/// how OpenCV and Pillow read a `uint8` mask; `isEmpty`, `boundingBox` and the fills use it.
public struct Mask: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `width * height` values.
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(values.count == width * height, "value count does not match size")
        self.width = width
        self.height = height
        self.values = values
    }

    public init(width: Int, height: Int, fill: Float = 0) {
        self.init(width: width, height: height, values: [Float](repeating: fill, count: width * height))
    }

    /// A mask read from an image: the largest colour sample of each pixel (the value itself
    /// for gray), multiplied by alpha where there is one, so a transparent area never marks.
    public init(_ image: Image) {
        let colors = image.colorChannels
        let values = (0..<image.pixelCount).map { p -> Float in
            let base = p * image.channels
            var value = image.samples[base]
            for c in 1..<max(colors, 1) { value = max(value, image.samples[base + c]) }
            return image.hasAlpha ? value * image.samples[base + colors] : value
        }
        self.init(width: image.width, height: image.height, values: values)
    }

    /// The mask as a one-channel 8-bit image.
    public var image: Image {
        Image(width: width, height: height, channels: 1, bitDepth: 8, samples: values)
    }

    /// True when no pixel is marked.
    public var isEmpty: Bool { !values.contains { Plane.byte($0) != 0 } }

    /// 255 where marked, 0 elsewhere.
    func marks() -> [UInt8] { values.map { Plane.byte($0) == 0 ? 0 : 255 } }

    func checkSize(matches image: Image) throws {
        guard width == image.width, height == image.height else {
            throw ImageOpsError.maskSizeMismatch(imageWidth: image.width, imageHeight: image.height,
                                                 maskWidth: width, maskHeight: height)
        }
    }

    /// 1 where the value is `>= threshold`, else 0 (diffusers' `binarize` at 0.5).
    public func thresholded(_ threshold: Float = 0.5) -> Mask {
        Mask(width: width, height: height, values: values.map { $0 >= threshold ? 1 : 0 })
    }

    /// Pixel rectangle, origin top-left.
    public struct Box: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var width: Int
        public var height: Int

        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
    }

    /// The smallest rectangle holding every marked pixel, grown by `padding` on each side and
    /// clamped to the mask; nil when the mask is empty.
    public func boundingBox(padding: Int = 0) -> Box? {
        var minX = width, minY = height, maxX = -1, maxY = -1
        for y in 0..<height {
            for x in 0..<width where Plane.byte(values[y * width + x]) != 0 {
                minX = min(minX, x); maxX = max(maxX, x)
                minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        guard maxX >= 0 else { return nil }
        let x0 = max(minX - padding, 0), y0 = max(minY - padding, 0)
        let x1 = min(maxX + padding, width - 1), y1 = min(maxY + padding, height - 1)
        return Box(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }
}

// MARK: - Grow and shrink

extension Mask {
    /// Morphological dilation (`pixels > 0`) or erosion (`pixels < 0`) with a disc of radius
    /// `|pixels|`: the offsets `(dx, dy)` with `dx² + dy² <= r²`. Works on soft masks too (max /
    /// min over the disc). Pixels beyond the border are ignored, so a full mask stays full.
    public func grown(by pixels: Int) -> Mask {
        guard pixels != 0, width > 0, height > 0 else { return self }
        let radius = abs(pixels)
        let dilating = pixels > 0
        // Largest dx with dx² + dy² <= r², in integers.
        let halfWidths = (0...radius).map { dy -> Int in
            var hw = Int(Double(radius * radius - dy * dy).squareRoot())
            while hw * hw + dy * dy > radius * radius { hw -= 1 }
            while (hw + 1) * (hw + 1) + dy * dy <= radius * radius { hw += 1 }
            return hw
        }
        var result = [Float](repeating: 0, count: values.count)
        let source = values, width = width, height = height
        result.withUnsafeMutableBufferPointer { out in
            let outBase = UnsafeSendablePointer(out.baseAddress)
            DispatchQueue.concurrentPerform(iterations: height) { y in
                var row = [Float](repeating: dilating ? -.infinity : .infinity, count: width)
                var line = [Float](repeating: 0, count: width)
                for dy in -radius...radius where y + dy >= 0 && y + dy < height {
                    slidingExtreme(source, offset: (y + dy) * width, count: width,
                                   halfWidth: halfWidths[abs(dy)], maximum: dilating, into: &line)
                    for x in 0..<width { row[x] = dilating ? max(row[x], line[x]) : min(row[x], line[x]) }
                }
                for x in 0..<width { outBase.pointer?[y * width + x] = row[x] }
            }
        }
        return Mask(width: width, height: height, values: result)
    }
}

/// A pointer handed to `concurrentPerform` workers that write disjoint ranges.
struct UnsafeSendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>?
    init(_ pointer: UnsafeMutablePointer<T>?) { self.pointer = pointer }
}

/// Max (or min) of `values[offset + x - h ... offset + x + h]` clipped to the line, for every x,
/// with a monotonic deque: O(count) whatever the half width.
private func slidingExtreme(_ values: [Float], offset: Int, count: Int, halfWidth: Int,
                            maximum: Bool, into out: inout [Float]) {
    var deque = [Int](repeating: 0, count: count)
    var head = 0, tail = 0
    var next = 0
    for x in 0..<count {
        while next < count && next <= x + halfWidth {
            let v = values[offset + next]
            while tail > head {
                let back = values[offset + deque[tail - 1]]
                if maximum ? back <= v : back >= v { tail -= 1 } else { break }
            }
            deque[tail] = next
            tail += 1
            next += 1
        }
        while deque[head] < x - halfWidth { head += 1 }
        out[x] = values[offset + deque[head]]
    }
}

// MARK: - Gaussian blur as Pillow

extension Mask {
    /// Gaussian blur as Pillow's `ImageFilter.GaussianBlur(radius)` on the 8-bit mask (the blur
    /// diffusers' `VaeImageProcessor.blur` and A1111's `mask_blur` apply): three passes of an
    /// extended box blur per axis (Gwosdek et al. 2011), horizontal first, each pass rounding to
    /// 8 bits in Pillow's 8.24 fixed point, edges replicated. The result holds `byte / 255`.
    public func blurred(radius: Double) -> Mask {
        let boxRadius = PillowBoxBlur.boxRadius(gaussianRadius: Float(radius), passes: 3)
        guard radius > 0, boxRadius > 0 else { return self }
        var bytes = values.map(Plane.byte)
        PillowBoxBlur.blurRows(&bytes, width: width, height: height, radius: boxRadius, passes: 3)
        var transposed = PillowBoxBlur.transpose(bytes, width: width, height: height)
        PillowBoxBlur.blurRows(&transposed, width: height, height: width, radius: boxRadius, passes: 3)
        bytes = PillowBoxBlur.transpose(transposed, width: height, height: width)
        return Mask(width: width, height: height, values: bytes.map { Float($0) / 255 })
    }
}

/// Pillow's libImaging/BoxBlur.c for one 8-bit band.
enum PillowBoxBlur {
    /// `_gaussian_blur_radius`: the box radius whose `passes` repetitions have the Gaussian's
    /// variance; its fractional part weights the two outermost samples. Float and double mixed as there.
    static func boxRadius(gaussianRadius radius: Float, passes: Int) -> Float {
        let sigma2 = radius * radius / Float(passes)
        let boxLength = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(((Double(boxLength) - 1.0) / 2.0).rounded(.down))
        var a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    static func blurRows(_ data: inout [UInt8], width: Int, height: Int, radius: Float, passes: Int) {
        let whole = Int(radius)
        let ww = UInt32(Float(1 << 24) / (radius * 2 + 1))
        let fw = (UInt32(1 << 24) &- UInt32(whole * 2 + 1) &* ww) / 2
        data.withUnsafeMutableBufferPointer { buffer in
            let base = UnsafeSendablePointer(buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: height) { y in
                guard let row = base.pointer?.advanced(by: y * width) else { return }
                var line = [UInt8](repeating: 0, count: width)
                for _ in 0..<passes {
                    for x in 0..<width { line[x] = row[x] }
                    blurLine(line, into: row, radius: whole, ww: ww, fw: fw)
                }
            }
        }
    }

    /// Each output is `(sum of the 2r+1 nearest inputs) * ww + (the two next ones) * fw`,
    /// rounded from 8.24 fixed point; indices past the ends repeat the end samples.
    private static func blurLine(_ input: [UInt8], into out: UnsafeMutablePointer<UInt8>,
                                 radius: Int, ww: UInt32, fw: UInt32) {
        let last = input.count - 1
        func at(_ i: Int) -> UInt32 { UInt32(input[min(max(i, 0), last)]) }
        var acc: UInt32 = 0
        for i in (-radius - 1)..<radius { acc &+= at(i) }
        for x in 0...last {
            acc &+= at(x + radius)
            acc &-= at(x - radius - 1)
            let bulk = acc &* ww &+ (at(x - radius - 1) &+ at(x + radius + 1)) &* fw
            out[x] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
        }
    }

    static func transpose(_ data: [UInt8], width: Int, height: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: data.count)
        for y in 0..<height {
            for x in 0..<width { out[x * height + y] = data[y * width + x] }
        }
        return out
    }
}
