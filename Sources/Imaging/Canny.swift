import Foundation

/// Canny edge detector.
///
/// This implementation matches OpenCV's `cv2.Canny(image, low, high)` with the defaults
/// `apertureSize=3`, `L2gradient=False`:
/// 1. 3x3 Sobel derivatives with `BORDER_REPLICATE`, no smoothing beforehand;
/// 2. L1 magnitude `|dx| + |dy|`; for multi-channel input each pixel takes the derivatives of
///    the channel with the largest magnitude (the first one on ties);
/// 3. non-maximum suppression in four sectors, chosen with OpenCV's fixed-point tangent tests
///    (`tan(22.5°)` as 13573 / 2^15);
/// 4. hysteresis: a pixel with magnitude `> high` seeds an edge, which grows 8-connected
///    through suppressed-maximum pixels with magnitude `> low`. Thresholds are floored
///    to integers and swapped when `low > high`, as OpenCV does.
///
/// Limitations: only aperture 3 and the L1 magnitude (what ControlNet's canny preprocessor uses).
public enum Canny {
    /// Edge map of 8-bit interleaved samples: 255 on edges, 0 elsewhere, `width * height` bytes.
    public static func edges(plane: [UInt8], width: Int, height: Int, channels: Int,
                             low: Double, high: Double) throws -> [UInt8] {
        try Plane.checkShape(width: width, height: height, channels: channels, count: plane.count)
        let (lowT, highT) = thresholds(low: low, high: high)
        let gradient = strongestGradient(plane: plane, width: width, height: height, channels: channels)
        var map = suppressNonMaxima(gradient, width: width, height: height, low: lowT, high: highT)
        trackEdges(&map, width: width, height: height)
        return (0..<(width * height)).map { p in
            map.states[(p / width + 1) * map.stride + p % width + 1] == EdgeState.edge ? 255 : 0
        }
    }

    /// Edge map of an image as a one-channel image, 1 on edges and 0 elsewhere.
    ///
    /// Samples are quantized to 8 bits (`round(v * 255)`) first; alpha is ignored.
    public static func edges(of image: Image, low: Double, high: Double) throws -> Image {
        let colors = image.colorChannels
        let plane = Plane.bytes(of: image, channels: 0..<colors)
        let edges = try edges(plane: plane, width: image.width, height: image.height,
                              channels: colors, low: low, high: high)
        return Image(width: image.width, height: image.height, channels: 1, bitDepth: 8,
                     samples: edges.map { $0 == 0 ? 0 : 1 })
    }

    /// OpenCV swaps reversed thresholds, then floors both (`cvFloor`).
    static func thresholds(low: Double, high: Double) -> (Int, Int) {
        let (a, b) = low > high ? (high, low) : (low, high)
        return (clampedFloor(a), clampedFloor(b))
    }

    private static func clampedFloor(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? Int(Int32.max) : Int(Int32.min) }
        return Int(max(min(value.rounded(.down), Double(Int32.max)), Double(Int32.min)))
    }

    /// Per-pixel Sobel derivatives and L1 magnitude of the strongest channel.
    struct Gradient {
        var dx: [Int32]
        var dy: [Int32]
        var magnitude: [Int32]
    }

    /// 3x3 Sobel with replicated borders; for several channels, the channel of largest `|dx|+|dy|`.
    static func strongestGradient(plane: [UInt8], width: Int, height: Int, channels: Int) -> Gradient {
        let count = width * height
        var gradient = Gradient(dx: [Int32](repeating: 0, count: count),
                                dy: [Int32](repeating: 0, count: count),
                                magnitude: [Int32](repeating: -1, count: count))
        plane.withUnsafeBufferPointer { src in
            gradient.dx.withUnsafeMutableBufferPointer { dxOut in
                gradient.dy.withUnsafeMutableBufferPointer { dyOut in
                    gradient.magnitude.withUnsafeMutableBufferPointer { magOut in
                        for y in 0..<height {
                            let up = max(y - 1, 0) * width, mid = y * width, down = min(y + 1, height - 1) * width
                            for x in 0..<width {
                                let left = max(x - 1, 0), right = min(x + 1, width - 1)
                                for c in 0..<channels {
                                    func v(_ row: Int, _ col: Int) -> Int32 { Int32(src[(row + col) * channels + c]) }
                                    let dx = (v(up, right) - v(up, left)) + 2 * (v(mid, right) - v(mid, left))
                                        + (v(down, right) - v(down, left))
                                    let dy = (v(down, left) - v(up, left)) + 2 * (v(down, x) - v(up, x))
                                        + (v(down, right) - v(up, right))
                                    let magnitude = abs(dx) + abs(dy)
                                    let p = mid + x
                                    if magnitude > magOut[p] {
                                        magOut[p] = magnitude
                                        dxOut[p] = dx
                                        dyOut[p] = dy
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return gradient
    }

    enum EdgeState {
        static let candidate: UInt8 = 0
        static let never: UInt8 = 1
        static let edge: UInt8 = 2
    }

    /// Edge states on a grid with a one-pixel frame of `never`, so tracking needs no bounds checks.
    struct EdgeMap {
        var states: [UInt8]
        var stride: Int
        var seeds: [Int]
    }

    /// OpenCV's `tan(22.5°)` in Q15, `(int)(0.41421356 * 32768 + 0.5)`.
    private static let tan22Q15: Int64 = 13573

    static func suppressNonMaxima(_ g: Gradient, width: Int, height: Int, low: Int, high: Int) -> EdgeMap {
        let stride = width + 2
        var map = EdgeMap(states: [UInt8](repeating: EdgeState.never, count: stride * (height + 2)),
                          stride: stride, seeds: [])
        // Magnitudes outside the image count as 0, as OpenCV's zeroed ring buffer rows and columns.
        func magnitude(_ x: Int, _ y: Int) -> Int64 {
            x < 0 || y < 0 || x >= width || y >= height ? 0 : Int64(g.magnitude[y * width + x])
        }
        for y in 0..<height {
            for x in 0..<width {
                let p = y * width + x
                let m = Int64(g.magnitude[p])
                guard m > low, isLocalMaximum(m, dx: g.dx[p], dy: g.dy[p], x: x, y: y, magnitude: magnitude)
                else { continue }
                let cell = (y + 1) * stride + x + 1
                if m > high {
                    map.states[cell] = EdgeState.edge
                    map.seeds.append(cell)
                } else {
                    map.states[cell] = EdgeState.candidate
                }
            }
        }
        return map
    }

    /// Sector test of OpenCV's canny.cpp: horizontal, vertical or one of the two diagonals.
    /// The asymmetric `>` / `>=` pairs break ties on plateaus exactly as OpenCV does.
    private static func isLocalMaximum(_ m: Int64, dx: Int32, dy: Int32, x: Int, y: Int,
                                       magnitude: (Int, Int) -> Int64) -> Bool {
        let ax = Int64(abs(dx))
        let ay = Int64(abs(dy)) << 15
        let tg22x = ax * tan22Q15
        if ay < tg22x {
            return m > magnitude(x - 1, y) && m >= magnitude(x + 1, y)
        }
        let tg67x = tg22x + (ax << 16)
        if ay > tg67x {
            return m > magnitude(x, y - 1) && m >= magnitude(x, y + 1)
        }
        let s = (dx ^ dy) < 0 ? -1 : 1
        return m > magnitude(x - s, y - 1) && m > magnitude(x + s, y + 1)
    }

    /// Hysteresis: grow every seed through 8-connected candidates.
    static func trackEdges(_ map: inout EdgeMap, width: Int, height: Int) {
        let stride = map.stride
        let offsets = [-1, 1, -stride - 1, -stride, -stride + 1, stride - 1, stride, stride + 1]
        var stack = map.seeds
        map.states.withUnsafeMutableBufferPointer { states in
            while let cell = stack.popLast() {
                for offset in offsets where states[cell + offset] == EdgeState.candidate {
                    states[cell + offset] = EdgeState.edge
                    stack.append(cell + offset)
                }
            }
        }
    }
}
