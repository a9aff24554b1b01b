import Foundation

/// Model-free object removal: PatchMatch (Barnes et al. 2009) inside a coarse-to-fine
/// expectation-maximisation fill (Wexler et al. 2007).
///
/// 1. A pyramid halves the image until it is small; a coarse pixel is a hole when any of its
///    children is, and averages its known children otherwise.
/// 2. On the coarsest level the hole starts as an onion-peel average of its known border.
/// 3. On every level, EM steps alternate a nearest-neighbour field (NNF) search and voting:
///    every patch overlapping the hole (the *targets*) finds its most similar patch lying
///    entirely in the known area (the *sources*) by random initialisation, propagation from
///    scan neighbours and a random search in halving windows; each hole pixel then becomes the
///    mean of the pixels that the overlapping targets' sources put there.
/// 4. The next finer level starts from the upsampled field and the upsampled fill.
///
/// Deterministic for a given `seed`: rows are processed in fixed bands in parallel, each with
/// its own SplitMix64 stream, and a band never reads the field another band writes. Pixels
/// outside the mask are returned exactly as given.
public enum PatchMatchFill {
    public struct Options: Sendable, Equatable {
        /// Side of the square patches (odd).
        public var patchSize: Int
        /// EM steps per pyramid level.
        public var emSteps: Int
        /// PatchMatch sweeps per EM step.
        public var sweeps: Int
        public var seed: UInt64

        public init(patchSize: Int = 7, emSteps: Int = 4, sweeps: Int = 3, seed: UInt64 = 0) {
            self.patchSize = max(3, patchSize | 1)
            self.emSteps = max(1, emSteps)
            self.sweeps = max(1, sweeps)
            self.seed = seed
        }
    }

    /// Fills the marked pixels of `mask` (nonzero at 8 bits) from the rest of the image.
    ///
    /// When no patch lies entirely outside the hole, the onion-peel fill is returned.
    public static func fill(_ image: Image, mask: Mask, options: Options = Options()) throws -> Image {
        try mask.checkSize(matches: image)
        let hole = mask.marks().map { $0 != 0 }
        guard hole.contains(true) else { return image }
        let radius = options.patchSize / 2
        var pyramid = [FillLevel(width: image.width, height: image.height, channels: image.channels,
                                 pixels: image.samples, hole: hole, radius: radius)]
        while let coarser = pyramid[pyramid.count - 1].downsampled(radius: radius),
              min(coarser.width, coarser.height) >= 4 * options.patchSize, !coarser.sources.isEmpty {
            pyramid.append(coarser)
        }
        var level = pyramid.removeLast()
        level.fillByOnionPeel()
        var sourceMap: [Int32]? = nil
        var depth = pyramid.count
        while true {
            if !level.sources.isEmpty {
                var matcher = PatchMatcher(level: level, options: options, seed: options.seed &+ UInt64(depth))
                matcher.initialise(proposals: sourceMap)
                matcher.run()
                level = matcher.level
                sourceMap = matcher.sourceMap
            } else {
                sourceMap = nil
            }
            guard var finer = pyramid.popLast() else { break }
            finer.upsampleFill(from: level)
            sourceMap = sourceMap.map { PatchMatcher.proposals(coarseMap: $0, coarse: level, fine: finer) }
            level = finer
            depth -= 1
        }
        var result = image
        for p in 0..<image.pixelCount where hole[p] {
            for c in 0..<image.channels {
                result.samples[p * image.channels + c] = min(max(level.pixels[p * image.channels + c], 0), 1)
            }
        }
        return result
    }
}

/// One pyramid level: interleaved pixels, the hole, and the centres of all-known patches.
struct FillLevel {
    let width: Int
    let height: Int
    let channels: Int
    var pixels: [Float]
    let hole: [Bool]
    /// Pixel indices of patch centres whose whole patch is inside the image and known.
    let sources: [Int32]
    let isSource: [Bool]

    init(width: Int, height: Int, channels: Int, pixels: [Float], hole: [Bool], radius: Int) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.hole = hole
        let holeNear = FillLevel.chebyshevDilation(hole, width: width, height: height, radius: radius)
        var isSource = [Bool](repeating: false, count: width * height)
        var sources: [Int32] = []
        if width > 2 * radius, height > 2 * radius {
            for y in radius..<(height - radius) {
                for x in radius..<(width - radius) where !holeNear[y * width + x] {
                    isSource[y * width + x] = true
                    sources.append(Int32(y * width + x))
                }
            }
        }
        self.isSource = isSource
        self.sources = sources
    }

    /// True where some marked pixel lies within `radius` in both directions.
    static func chebyshevDilation(_ marks: [Bool], width: Int, height: Int, radius: Int) -> [Bool] {
        func dilateLines(_ input: [Bool], count: Int, length: Int, index: (Int, Int) -> Int) -> [Bool] {
            var out = [Bool](repeating: false, count: input.count)
            for line in 0..<count {
                var last = Int.min / 2
                for i in 0..<length {
                    if input[index(line, i)] { last = i }
                    if i - last <= radius { out[index(line, i)] = true }
                }
                last = Int.max / 2
                for i in stride(from: length - 1, through: 0, by: -1) {
                    if input[index(line, i)] { last = i }
                    if last - i <= radius { out[index(line, i)] = true }
                }
            }
            return out
        }
        let rows = dilateLines(marks, count: height, length: width) { y, x in y * width + x }
        return dilateLines(rows, count: width, length: height) { x, y in y * width + x }
    }

    /// Half size; a coarse pixel is a hole if any child is, else the mean of its children.
    func downsampled(radius: Int) -> FillLevel? {
        guard width > 1, height > 1 else { return nil }
        let w = (width + 1) / 2, h = (height + 1) / 2
        var pixels = [Float](repeating: 0, count: w * h * channels)
        var hole = [Bool](repeating: false, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var count: Float = 0
                var sum = [Float](repeating: 0, count: channels)
                for cy in (2 * y)..<min(2 * y + 2, height) {
                    for cx in (2 * x)..<min(2 * x + 2, width) {
                        let child = cy * width + cx
                        if self.hole[child] { hole[y * w + x] = true }
                        count += 1
                        for c in 0..<channels { sum[c] += self.pixels[child * channels + c] }
                    }
                }
                for c in 0..<channels { pixels[(y * w + x) * channels + c] = sum[c] / count }
            }
        }
        return FillLevel(width: w, height: h, channels: channels, pixels: pixels, hole: hole, radius: radius)
    }

    /// Fills the hole ring by ring, each pixel the mean of its already-known 8-neighbours.
    mutating func fillByOnionPeel() {
        var known = hole.map { !$0 }
        var pending = (0..<(width * height)).filter { hole[$0] }
        while !pending.isEmpty {
            var ring: [(Int, [Float])] = []
            var rest: [Int] = []
            for p in pending {
                let x = p % width, y = p / width
                var count: Float = 0
                var sum = [Float](repeating: 0, count: channels)
                for ny in max(y - 1, 0)...min(y + 1, height - 1) {
                    for nx in max(x - 1, 0)...min(x + 1, width - 1) where known[ny * width + nx] {
                        count += 1
                        for c in 0..<channels { sum[c] += pixels[(ny * width + nx) * channels + c] }
                    }
                }
                if count > 0 { ring.append((p, sum.map { $0 / count })) } else { rest.append(p) }
            }
            guard !ring.isEmpty else { break }  // nothing known at all: leave the hole as it is
            for (p, value) in ring {
                known[p] = true
                for c in 0..<channels { pixels[p * channels + c] = value[c] }
            }
            pending = rest
        }
    }

    /// Hole pixels take the bilinearly interpolated fill of the coarser level.
    mutating func upsampleFill(from coarse: FillLevel) {
        for y in 0..<height {
            for x in 0..<width where hole[y * width + x] {
                let fx = min(max((Float(x) + 0.5) / 2 - 0.5, 0), Float(coarse.width - 1))
                let fy = min(max((Float(y) + 0.5) / 2 - 0.5, 0), Float(coarse.height - 1))
                let x0 = Int(fx), y0 = Int(fy)
                let x1 = min(x0 + 1, coarse.width - 1), y1 = min(y0 + 1, coarse.height - 1)
                let ax = fx - Float(x0), ay = fy - Float(y0)
                for c in 0..<channels {
                    func v(_ px: Int, _ py: Int) -> Float { coarse.pixels[(py * coarse.width + px) * channels + c] }
                    let top = v(x0, y0) * (1 - ax) + v(x1, y0) * ax
                    let bottom = v(x0, y1) * (1 - ax) + v(x1, y1) * ax
                    pixels[(y * width + x) * channels + c] = top * (1 - ay) + bottom * ay
                }
            }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same on every platform.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (the modulo bias is below 2^-40 for image sizes).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// The nearest-neighbour field of one level and the EM loop over it.
struct PatchMatcher {
    typealias Options = PatchMatchFill.Options
    /// Rows per parallel band; fixed, so results do not depend on the core count.
    static let bandRows = 16

    private(set) var level: FillLevel
    private let options: Options
    private let seed: UInt64
    private let radius: Int
    /// Target patch centres (pixels within `radius` of the hole), in raster order.
    private let targets: [Int32]
    /// Target number of each pixel, -1 where none.
    private let targetAt: [Int32]
    /// Source centre per target, and its patch distance.
    private var field: [Int32]
    private var cost: [Float]

    init(level: FillLevel, options: Options, seed: UInt64) {
        self.level = level
        self.options = options
        self.seed = seed
        radius = options.patchSize / 2
        let near = FillLevel.chebyshevDilation(level.hole, width: level.width, height: level.height, radius: radius)
        var targets: [Int32] = []
        var targetAt = [Int32](repeating: -1, count: near.count)
        for p in 0..<near.count where near[p] {
            targetAt[p] = Int32(targets.count)
            targets.append(Int32(p))
        }
        self.targets = targets
        self.targetAt = targetAt
        field = [Int32](repeating: 0, count: targets.count)
        cost = [Float](repeating: .infinity, count: targets.count)
    }

    /// Source centre per pixel of the level (-1 off the targets), for the next finer level.
    var sourceMap: [Int32] {
        var map = [Int32](repeating: -1, count: level.width * level.height)
        for (i, p) in targets.enumerated() { map[Int(p)] = field[i] }
        return map
    }

    /// Proposals for a finer level: coarse source `(sx, sy)` of the parent `(x/2, y/2)` becomes
    /// `(2sx + x%2, 2sy + y%2)`; -1 where there is none.
    static func proposals(coarseMap: [Int32], coarse: FillLevel, fine: FillLevel) -> [Int32] {
        var out = [Int32](repeating: -1, count: fine.width * fine.height)
        for y in 0..<fine.height {
            for x in 0..<fine.width {
                let parent = Int(coarseMap[min(y / 2, coarse.height - 1) * coarse.width + min(x / 2, coarse.width - 1)])
                guard parent >= 0 else { continue }
                let sx = 2 * (parent % coarse.width) + x % 2, sy = 2 * (parent / coarse.width) + y % 2
                if sx < fine.width, sy < fine.height { out[y * fine.width + x] = Int32(sy * fine.width + sx) }
            }
        }
        return out
    }

    /// Starts every target at its proposal when that is a source, else at a random source.
    mutating func initialise(proposals: [Int32]?) {
        let level = level, targets = targets, sources = level.sources, seed = seed, radius = radius
        let bands = bandRanges(offset: 0)
        field.withUnsafeMutableBufferPointer { fieldBuffer in
            cost.withUnsafeMutableBufferPointer { costBuffer in
                let fieldOut = UnsafeSendablePointer(fieldBuffer.baseAddress)
                let costOut = UnsafeSendablePointer(costBuffer.baseAddress)
                DispatchQueue.concurrentPerform(iterations: bands.count) { b in
                    var rng = SplitMix64(seed: PatchMatcher.streamSeed(seed, 0, 0, b))
                    for i in bands[b] {
                        var source = proposals.map { Int($0[Int(targets[i])]) } ?? -1
                        if source < 0 || !level.isSource[source] { source = Int(sources[rng.below(sources.count)]) }
                        fieldOut.pointer?[i] = Int32(source)
                        costOut.pointer?[i] = level.distance(Int(targets[i]), source, radius: radius, limit: .infinity)
                    }
                }
            }
        }
    }

    /// EM: PatchMatch sweeps, then voting, `emSteps` times.
    mutating func run() {
        for step in 0..<options.emSteps {
            if step > 0 { refreshCosts() }
            for sweep in 0..<options.sweeps { self.sweep(step: step, sweep: sweep) }
            vote()
        }
    }

    static func streamSeed(_ seed: UInt64, _ step: Int, _ sweep: Int, _ band: Int) -> UInt64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(step) << 40) ^ (UInt64(sweep) << 24) ^ UInt64(band))
        return mixer.next()
    }

    /// Target index ranges of row bands; `offset` shifts the band edges so that alternate
    /// sweeps propagate across the previous sweep's edges.
    private func bandRanges(offset: Int) -> [Range<Int>] {
        let width = level.width
        var ranges: [Range<Int>] = []
        var start = 0
        var edge = offset > 0 ? offset : Self.bandRows
        while start < targets.count {
            var end = start
            while end < targets.count && Int(targets[end]) / width < edge { end += 1 }
            if end > start { ranges.append(start..<end) }
            start = end
            edge += Self.bandRows
        }
        return ranges
    }

    private mutating func refreshCosts() {
        let level = level, targets = targets, radius = radius, field = field
        let chunks = bandRanges(offset: 0)
        cost.withUnsafeMutableBufferPointer { costBuffer in
            let costOut = UnsafeSendablePointer(costBuffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: chunks.count) { b in
                for i in chunks[b] {
                    costOut.pointer?[i] = level.distance(Int(targets[i]), Int(field[i]), radius: radius, limit: .infinity)
                }
            }
        }
    }

    /// One PatchMatch sweep: forward (propagating from left and up) on even sweeps, backward
    /// on odd ones; then a random search around the best match in halving windows.
    private mutating func sweep(step: Int, sweep: Int) {
        let level = level, targets = targets, targetAt = targetAt, radius = radius, seed = seed
        let backward = sweep % 2 == 1
        let bands = bandRanges(offset: backward ? Self.bandRows / 2 : 0)
        let width = level.width, height = level.height
        let direction = backward ? -1 : 1
        field.withUnsafeMutableBufferPointer { fieldBuffer in
            cost.withUnsafeMutableBufferPointer { costBuffer in
                let fieldPointer = UnsafeSendablePointer(fieldBuffer.baseAddress)
                let costPointer = UnsafeSendablePointer(costBuffer.baseAddress)
                DispatchQueue.concurrentPerform(iterations: bands.count) { b in
                    guard let field = fieldPointer.pointer, let cost = costPointer.pointer else { return }
                    let band = bands[b]
                    var rng = SplitMix64(seed: PatchMatcher.streamSeed(seed, step, sweep, b))
                    let order = backward ? Array(band.reversed()) : Array(band)
                    for i in order {
                        let p = Int(targets[i])
                        var best = Int(field[i]), bestCost = cost[i]
                        func consider(_ candidate: Int) {
                            guard candidate != best, level.isSource[candidate] else { return }
                            let d = level.distance(p, candidate, radius: radius, limit: bestCost)
                            if d < bestCost { best = candidate; bestCost = d }
                        }
                        // Propagation, only from neighbours of the same band (no cross-band reads).
                        let x = p % width
                        let left = p - direction
                        if x - direction >= 0, x - direction < width {
                            let j = Int(targetAt[left])
                            if band.contains(j) {
                                let shifted = Int(field[j]) + direction
                                if shifted % width == Int(field[j]) % width + direction { consider(shifted) }
                            }
                        }
                        let up = p - direction * width
                        if up >= 0, up < width * height {
                            let j = Int(targetAt[up])
                            if band.contains(j) {
                                let shifted = Int(field[j]) + direction * width
                                if shifted >= 0, shifted < width * height { consider(shifted) }
                            }
                        }
                        // Random search in windows halving from the image size.
                        var window = max(width, height)
                        while window >= 1 {
                            let bx = best % width, by = best / width
                            let cx = min(max(bx + rng.below(2 * window + 1) - window, radius), width - radius - 1)
                            let cy = min(max(by + rng.below(2 * window + 1) - window, radius), height - radius - 1)
                            consider(cy * width + cx)
                            window /= 2
                        }
                        field[i] = Int32(best)
                        cost[i] = bestCost
                    }
                }
            }
        }
    }

    /// Each hole pixel becomes the mean of what the sources of the targets covering it put there.
    private mutating func vote() {
        let level = level, targetAt = targetAt, field = field, radius = radius
        let width = level.width, height = level.height, channels = level.channels
        var pixels = level.pixels
        pixels.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeSendablePointer(buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: height) { y in
                var sum = [Float](repeating: 0, count: channels)
                for x in 0..<width where level.hole[y * width + x] {
                    for c in 0..<channels { sum[c] = 0 }
                    var count: Float = 0
                    for dy in -radius...radius where y - dy >= 0 && y - dy < height {
                        for dx in -radius...radius where x - dx >= 0 && x - dx < width {
                            let j = Int(targetAt[(y - dy) * width + x - dx])
                            guard j >= 0 else { continue }
                            let sourcePixel = Int(field[j]) + dy * width + dx
                            for c in 0..<channels { sum[c] += level.pixels[sourcePixel * channels + c] }
                            count += 1
                        }
                    }
                    guard count > 0 else { continue }
                    for c in 0..<channels { out.pointer?[(y * width + x) * channels + c] = sum[c] / count }
                }
            }
        }
        self.level.pixels = pixels
    }
}

extension FillLevel {
    /// Sum of squared differences between the patch around target pixel `t` (the part inside the
    /// image) and the patch around source centre `s`; stops early once above `limit`.
    func distance(_ t: Int, _ s: Int, radius: Int, limit: Float) -> Float {
        let tx = t % width, ty = t / width
        var total: Float = 0
        pixels.withUnsafeBufferPointer { px in
            for dy in -radius...radius where ty + dy >= 0 && ty + dy < height {
                let x0 = max(tx - radius, 0), x1 = min(tx + radius, width - 1)
                let tRow = ((ty + dy) * width + x0) * channels
                let sRow = (s + dy * width + (x0 - tx)) * channels
                for k in 0..<((x1 - x0 + 1) * channels) {
                    let d = px[tRow + k] - px[sRow + k]
                    total += d * d
                }
                if total > limit { return }
            }
        }
        return total
    }
}
