import Foundation

/// Inpainting by the fast marching method of Telea (2004).
///
/// This implementation matches OpenCV's `cv2.inpaint(image, mask, radius, cv2.INPAINT_TELEA)`
/// on 8-bit images (modules/photo/src/inpaint.cpp), step for step:
/// 1. the narrow band is the 4-neighbour ring just outside the mask; a second, outward march
///    gives the known pixels within `radius` of the mask negative arrival times;
/// 2. band pixels leave a min-heap of arrival times `T` (ties in insertion order); each newly
///    reached masked pixel gets `T` from the eikonal solve (`FastMarching_solve`) and its value
///    from the known pixels within `radius`, weighted by direction (`r . grad T`), level
///    (`1 / (1 + |dT|)`) and distance (`1 / |r|^3`), plus OpenCV's gradient term;
/// 3. values round as OpenCV's `saturate_cast<uchar>(v + 0.5)` (`rint`, ties to even).
/// Pixels outside the mask are never written.
///
/// Limitations: OpenCV's quirks are kept on purpose (the doubled central image gradient, the
/// clamped indices on the first and last rows and columns), since parity is the point. A mask
/// that leaves no known 4-neighbour of a masked pixel inside the image (for example a full
/// mask) has no band, and OpenCV then returns the input unchanged; so does this.
public enum TeleaInpaint {
    /// Fills the pixels where `mask` is nonzero. `plane` holds `width * height * channels`
    /// interleaved bytes, `mask` `width * height` bytes.
    ///
    /// One channel uses OpenCV's one-channel arithmetic; any other count its three-channel one.
    public static func inpaint(plane: [UInt8], width: Int, height: Int, channels: Int,
                               mask: [UInt8], radius: Double) throws -> [UInt8] {
        try Plane.checkShape(width: width, height: height, channels: channels, count: plane.count)
        try Plane.checkShape(width: width, height: height, channels: 1, count: mask.count)
        var march = FastMarch(mask: mask, width: width, height: height, range: inpaintRange(radius))
        guard march.hasBand else { return plane }
        var out = plane
        march.prepareOutsideTimes()
        march.fill(&out, channels: channels)
        return out
    }

    /// Fills the pixels of `image` whose mask value is marked (nonzero at 8 bits).
    ///
    /// Colour channels are inpainted together, alpha on its own; samples are quantized to
    /// 8 bits for the fill, and unmasked samples are returned exactly as given.
    public static func inpaint(_ image: Image, mask: Mask, radius: Double = 3) throws -> Image {
        try mask.checkSize(matches: image)
        let marks = mask.marks()
        guard marks.contains(where: { $0 != 0 }) else { return image }
        var result = image
        var groups = [0..<image.colorChannels]
        if image.hasAlpha { groups.append(image.colorChannels..<image.channels) }
        for group in groups {
            let plane = Plane.bytes(of: image, channels: group)
            let filled = try inpaint(plane: plane, width: image.width, height: image.height,
                                     channels: group.count, mask: marks, radius: radius)
            for p in 0..<image.pixelCount where marks[p] != 0 {
                for (offset, c) in group.enumerated() {
                    result.samples[p * image.channels + c] = Float(filled[p * group.count + offset]) / 255
                }
            }
        }
        return result
    }

    /// `cvRound(inpaintRange)` clamped to 1...100, as OpenCV.
    static func inpaintRange(_ radius: Double) -> Int {
        guard radius.isFinite else { return radius > 0 ? 100 : 1 }
        return Int(min(max(radius.rounded(.toNearestOrEven), 1), 100))
    }
}

/// Pixel states of OpenCV's fast marching (`KNOWN`, `BAND`, `INSIDE`, `CHANGE`).
private enum Flag {
    static let known: UInt8 = 0
    static let band: UInt8 = 1
    static let inside: UInt8 = 2
    static let change: UInt8 = 3
}

/// Min-heap of arrival times; equal times leave in insertion order (OpenCV's `CvPriorityQueueFloat`).
private struct ArrivalQueue {
    private var items: [(time: Float, order: Int, cell: Int)] = []
    private var nextOrder = 0

    var isEmpty: Bool { items.isEmpty }

    private static func precedes(_ a: (time: Float, order: Int, cell: Int),
                                 _ b: (time: Float, order: Int, cell: Int)) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }

    mutating func push(_ cell: Int, time: Float) {
        items.append((time, nextOrder, cell))
        nextOrder += 1
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < items.count, Self.precedes(items[left], items[best]) { best = left }
                if right < items.count, Self.precedes(items[right], items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
        return top.cell
    }
}

/// OpenCV's state on the image extended by a one-pixel frame (`erows x ecols`).
private struct FastMarch {
    let rows: Int
    let cols: Int
    let range: Int
    /// `INSIDE` on masked pixels, `BAND` on the ring, `KNOWN` elsewhere (OpenCV's `f`/`mask`).
    var flags: [UInt8]
    /// Arrival times; 1e6 where not reached.
    var times: [Float]
    var band: [Int] = []
    var inside: [Bool]
    var heap = ArrivalQueue()

    init(mask: [UInt8], width: Int, height: Int, range: Int) {
        rows = height + 2
        cols = width + 2
        self.range = range
        inside = [Bool](repeating: false, count: rows * cols)
        for y in 0..<height {
            for x in 0..<width where mask[y * width + x] != 0 { inside[(y + 1) * cols + x + 1] = true }
        }
        flags = [UInt8](repeating: Flag.known, count: rows * cols)
        times = [Float](repeating: 1.0e6, count: rows * cols)
        // band = dilate(mask, 3x3 cross) - mask, without the frame, in raster order.
        for y in 1..<(rows - 1) {
            for x in 1..<(cols - 1) {
                let p = y * cols + x
                if inside[p] {
                    flags[p] = Flag.inside
                } else if inside[p - 1] || inside[p + 1] || inside[p - cols] || inside[p + cols] {
                    band.append(p)
                    flags[p] = Flag.band
                    times[p] = 0
                }
            }
        }
        for p in band { heap.push(p, time: 0) }
    }

    var hasBand: Bool { !band.isEmpty }

    /// Known pixels within `range` (Chebyshev) of the mask get negative times by marching
    /// outward from the band (`icvCalcFMM(..., negate: true)`).
    mutating func prepareOutsideTimes() {
        var ring = dilatedMask()
        for p in 0..<ring.count where inside[p] { ring[p] = Flag.known }
        for p in band { ring[p] = Flag.known }
        for y in 0..<rows { ring[y * cols] = Flag.known; ring[y * cols + cols - 1] = Flag.known }
        for x in 0..<cols { ring[x] = Flag.known; ring[(rows - 1) * cols + x] = Flag.known }
        var outward = ArrivalQueue()
        for p in band { outward.push(p, time: 0) }
        while let p = outward.pop() {
            ring[p] = Flag.change
            for q in [p - cols, p - 1, p + cols, p + 1] where ring[q] == Flag.inside {
                let time = arrivalTime(q, flags: ring)
                times[q] = time
                ring[q] = Flag.band
                outward.push(q, time: time)
            }
        }
        for p in 0..<ring.count where ring[p] == Flag.change { times[p] = -times[p] }
    }

    /// `INSIDE` where a masked pixel lies within `range` in both directions (rect dilation).
    private func dilatedMask() -> [UInt8] {
        var horizontal = [Bool](repeating: false, count: rows * cols)
        for y in 0..<rows {
            var last = Int.min / 2
            for x in 0..<cols {
                if inside[y * cols + x] { last = x }
                horizontal[y * cols + x] = x - last <= range
            }
            last = Int.max / 2
            for x in stride(from: cols - 1, through: 0, by: -1) {
                if inside[y * cols + x] { last = x }
                if last - x <= range { horizontal[y * cols + x] = true }
            }
        }
        var result = [UInt8](repeating: Flag.known, count: rows * cols)
        for x in 0..<cols {
            var last = Int.min / 2
            for y in 0..<rows {
                if horizontal[y * cols + x] { last = y }
                if y - last <= range { result[y * cols + x] = Flag.inside }
            }
            last = Int.max / 2
            for y in stride(from: rows - 1, through: 0, by: -1) {
                if horizontal[y * cols + x] { last = y }
                if last - y <= range { result[y * cols + x] = Flag.inside }
            }
        }
        return result
    }

    /// `min4` of `FastMarching_solve` over the four quadrant pairs.
    func arrivalTime(_ p: Int, flags f: [UInt8]) -> Float {
        let up = p - cols, down = p + cols, left = p - 1, right = p + 1
        return min(min(solve(up, left, f), solve(down, left, f)),
                   min(solve(up, right, f), solve(down, right, f)))
    }

    /// OpenCV's `FastMarching_solve`, in double as there.
    private func solve(_ a: Int, _ b: Int, _ f: [UInt8]) -> Float {
        let a11 = Double(times[a]), a22 = Double(times[b])
        let m12 = min(a11, a22)
        let sol: Double
        if f[a] != Flag.inside {
            if f[b] != Flag.inside {
                sol = abs(a11 - a22) >= 1 ? 1 + m12 : (a11 + a22 + (2 - (a11 - a22) * (a11 - a22)).squareRoot()) * 0.5
            } else {
                sol = 1 + a11
            }
        } else if f[b] != Flag.inside {
            sol = 1 + a22
        } else {
            sol = 1 + m12
        }
        return Float(sol)
    }

    /// The inward march that assigns values (`icvTeleaInpaintFMM`).
    mutating func fill(_ out: inout [UInt8], channels: Int) {
        while let p = heap.pop() {
            flags[p] = Flag.known
            for q in [p - cols, p - 1, p + cols, p + 1] {
                let i = q / cols, j = q % cols
                guard i > 0, j > 0, i < rows, j < cols, flags[q] == Flag.inside else { continue }
                let time = arrivalTime(q, flags: flags)
                times[q] = time
                assignValue(q, to: &out, channels: channels)
                flags[q] = Flag.band
                heap.push(q, time: time)
            }
        }
    }

    /// One-sided or central difference of `times` where the neighbours are not `INSIDE`.
    private func timeGradient(_ p: Int) -> (x: Float, y: Float) {
        func difference(_ minus: Int, _ plus: Int) -> Float {
            let knownPlus = flags[plus] != Flag.inside, knownMinus = flags[minus] != Flag.inside
            if knownPlus && knownMinus { return (times[plus] - times[minus]) * 0.5 }
            if knownPlus { return times[plus] - times[p] }
            if knownMinus { return times[p] - times[minus] }
            return 0
        }
        return (difference(p - 1, p + 1), difference(p - cols, p + cols))
    }

    private func assignValue(_ p: Int, to out: inout [UInt8], channels: Int) {
        let i = p / cols, j = p % cols
        let width = cols - 2
        let gradT = timeGradient(p)
        let threeChannelArithmetic = channels != 1
        var ia = [Float](repeating: 0, count: channels)
        var jx = [Float](repeating: 0, count: channels)
        var jy = [Float](repeating: 0, count: channels)
        var s: Float = 1.0e-20
        let tp = times[p]
        for k in max(i - range, 1)...min(i + range, rows - 2) {
            // OpenCV clamps the gradient's row indices on the first and last image rows.
            let km = k - 1 + (k == 1 ? 1 : 0), kp = k - 1 - (k == rows - 2 ? 1 : 0)
            for l in max(j - range, 1)...min(j + range, cols - 2) {
                let q = k * cols + l
                guard flags[q] != Flag.inside, (l - j) * (l - j) + (k - i) * (k - i) <= range * range
                else { continue }
                let lm = l - 1 + (l == 1 ? 1 : 0), lp = l - 1 - (l == cols - 2 ? 1 : 0)
                let rx = Float(j - l), ry = Float(i - k)
                let length = rx * rx + ry * ry
                let dst = threeChannelArithmetic
                    ? Float(1.0 / (Double(length) * Double(length).squareRoot()))
                    : Float(1.0 / Double(length * length.squareRoot()))
                let lev = Float(1.0 / Double(1 + abs(times[q] - tp)))
                var dir = rx * gradT.x + ry * gradT.y
                if Double(abs(dir)) <= 0.01 { dir = 0.000001 }
                let w = abs(dst * lev * dir)
                let rightKnown = flags[q + 1] != Flag.inside, leftKnown = flags[q - 1] != Flag.inside
                let downKnown = flags[q + cols] != Flag.inside, upKnown = flags[q - cols] != Flag.inside
                for c in 0..<channels {
                    func v(_ row: Int, _ col: Int) -> Float { Float(out[(row * width + col) * channels + c]) }
                    let gx: Float, gy: Float
                    if rightKnown {
                        gx = leftKnown ? (v(km, lp + 1) - v(km, lm - 1)) * 2 : v(km, lp + 1) - v(km, lm)
                    } else {
                        gx = leftKnown ? v(km, lp) - v(km, lm - 1) : 0
                    }
                    if downKnown {
                        gy = upKnown ? (v(kp + 1, lm) - v(km - 1, lm)) * 2 : v(kp + 1, lm) - v(km, lm)
                    } else {
                        gy = upKnown ? v(kp, lm) - v(km - 1, lm) : 0
                    }
                    ia[c] += w * v(k - 1, l - 1)
                    jx[c] -= w * (gx * rx)
                    jy[c] -= w * (gy * ry)
                }
                s += w
            }
        }
        let base = ((i - 1) * width + (j - 1)) * channels
        for c in 0..<channels {
            let sat = ia[c] / s + (jx[c] + jy[c]) / ((jx[c] * jx[c] + jy[c] * jy[c]).squareRoot() + 1.0e-20)
            out[base + c] = roundedByte(sat)
        }
    }

    /// `saturate_cast<uchar>(double(v) + 0.5)`: `rint` (ties to even) of `v + 0.5`, clamped.
    private func roundedByte(_ v: Float) -> UInt8 {
        let r = (Double(v) + 0.5).rounded(.toNearestOrEven)
        if !(r > 0) { return 0 }
        return r >= 255 ? 255 : UInt8(r)
    }
}
