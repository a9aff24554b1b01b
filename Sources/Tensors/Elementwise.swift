/// Elementwise arithmetic with torch/NumPy broadcasting (shapes aligned from the right; a
/// size-1 axis stretches). A per-channel vector over NCHW is therefore `[1, C, 1, 1]` (or
/// `[N, C, 1, 1]`, as diffusers' time embedding), exactly as in torch.
extension Tensor {
    // lhs, rhs: broadcastable shapes -> broadcast shape
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { broadcast(lhs, rhs) { $0 + $1 } }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { broadcast(lhs, rhs) { $0 - $1 } }
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { broadcast(lhs, rhs) { $0 * $1 } }
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { broadcast(lhs, rhs) { $0 / $1 } }

    /// In place; `rhs` must broadcast to `lhs.shape` (residual additions reuse the buffer).
    // lhs: S, rhs: broadcastable to S
    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs.broadcastInPlace(rhs) { $0 + $1 } }
    public static func -= (lhs: inout Tensor, rhs: Tensor) { lhs.broadcastInPlace(rhs) { $0 - $1 } }
    public static func *= (lhs: inout Tensor, rhs: Tensor) { lhs.broadcastInPlace(rhs) { $0 * $1 } }

    // x: any shape -> same shape
    public static func + (lhs: consuming Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 + rhs } }
    public static func - (lhs: consuming Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 - rhs } }
    public static func * (lhs: consuming Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 * rhs } }
    public static func / (lhs: consuming Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 / rhs } }
    public static func + (lhs: Float, rhs: consuming Tensor) -> Tensor { rhs.mapped { lhs + $0 } }
    public static func - (lhs: Float, rhs: consuming Tensor) -> Tensor { rhs.mapped { lhs - $0 } }
    public static func * (lhs: Float, rhs: consuming Tensor) -> Tensor { rhs.mapped { lhs * $0 } }
    public static prefix func - (operand: consuming Tensor) -> Tensor { operand.mapped { -$0 } }

    public static func += (lhs: inout Tensor, rhs: Float) { lhs.mapInPlace { $0 + rhs } }
    public static func *= (lhs: inout Tensor, rhs: Float) { lhs.mapInPlace { $0 * rhs } }

    private consuming func mapped(_ transform: (FloatVector) -> FloatVector) -> Tensor {
        var result = self
        result.mapInPlace(transform)
        return result
    }

    private static func broadcast(
        _ lhs: Tensor, _ rhs: Tensor, _ operation: (FloatVector, FloatVector) -> FloatVector
    ) -> Tensor {
        let layout = BroadcastLayout(lhs.shape, rhs.shape)
        return Tensor(shape: layout.shape) { out in
            lhs.withUnsafeBufferPointer { first in
                rhs.withUnsafeBufferPointer { second in
                    layout.apply(first.baseAddress, second.baseAddress, into: out.baseAddress, operation)
                }
            }
        }
    }

    private mutating func broadcastInPlace(_ rhs: Tensor, _ operation: (FloatVector, FloatVector) -> FloatVector) {
        let layout = BroadcastLayout(shape, rhs.shape)
        precondition(layout.shape == shape, "cannot broadcast \(rhs.shape) into \(shape) in place")
        withUnsafeMutableBufferPointer { target in
            rhs.withUnsafeBufferPointer { second in
                layout.apply(UnsafePointer(target.baseAddress), second.baseAddress, into: target.baseAddress, operation)
            }
        }
    }
}

/// How two broadcast operands walk the output: axes merged wherever both operands stay
/// contiguous (or both stay broadcast), so the innermost loop is as long as possible.
struct BroadcastLayout {
    let shape: [Int]
    /// Merged axes, outermost first: (length, stride in lhs, stride in rhs); stride 0 = broadcast.
    private let axes: [(length: Int, first: Int, second: Int)]

    init(_ lhsShape: [Int], _ rhsShape: [Int]) {
        let rank = max(lhsShape.count, rhsShape.count)
        let lhs = [Int](repeating: 1, count: rank - lhsShape.count) + lhsShape
        let rhs = [Int](repeating: 1, count: rank - rhsShape.count) + rhsShape
        shape = zip(lhs, rhs).map { a, b in
            precondition(a == b || a == 1 || b == 1, "shapes \(lhsShape) and \(rhsShape) do not broadcast")
            return max(a, b)
        }
        let lhsStrides = Self.broadcastStrides(lhs, into: shape)
        let rhsStrides = Self.broadcastStrides(rhs, into: shape)
        var merged: [(length: Int, first: Int, second: Int)] = []
        for axis in 0..<rank where shape[axis] != 1 {
            let next = (length: shape[axis], first: lhsStrides[axis], second: rhsStrides[axis])
            if let last = merged.last,
               last.first == next.first * next.length, last.second == next.second * next.length {
                merged[merged.count - 1] = (last.length * next.length, next.first, next.second)
            } else {
                merged.append(next)
            }
        }
        axes = merged
    }

    private static func broadcastStrides(_ shape: [Int], into target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = shape[axis] == 1 && target[axis] != 1 ? 0 : step
            step *= shape[axis]
        }
        return strides
    }

    /// out[i] = operation(lhs[i], rhs[i]) over the broadcast shape, across threads.
    func apply(
        _ lhs: UnsafePointer<Float>?, _ rhs: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?,
        _ operation: (FloatVector, FloatVector) -> FloatVector
    ) {
        guard let lhs, let rhs, let out else { return }
        guard let inner = axes.last else {
            out[0] = operation(FloatVector(repeating: lhs[0]), FloatVector(repeating: rhs[0]))[0]
            return
        }
        let outer = Array(axes.dropLast())
        let outerCount = outer.reduce(1) { $0 * $1.length }
        Parallel.forEachRange(count: outerCount, minimumBlock: max(1, 16_384 / inner.length)) { range in
            for row in range {
                var (first, second, rest) = (0, 0, row)
                for axis in outer.reversed() {
                    let index = rest % axis.length
                    rest /= axis.length
                    first += index * axis.first
                    second += index * axis.second
                }
                Self.applyInner(lhs + first, inner.first, rhs + second, inner.second,
                                out + row * inner.length, count: inner.length, operation)
            }
        }
    }

    @inline(__always)
    private static func applyInner(
        _ lhs: UnsafePointer<Float>, _ lhsStride: Int, _ rhs: UnsafePointer<Float>, _ rhsStride: Int,
        _ out: UnsafeMutablePointer<Float>, count: Int, _ operation: (FloatVector, FloatVector) -> FloatVector
    ) {
        switch (lhsStride, rhsStride) {
        case (1, 1):
            mapVectorPairs(lhs, rhs, out, count: count, operation)
        case (0, 1):
            let constant = FloatVector(repeating: lhs[0])
            mapVectors(rhs, out, count: count) { operation(constant, $0) }
        case (1, 0):
            let constant = FloatVector(repeating: rhs[0])
            mapVectors(lhs, out, count: count) { operation($0, constant) }
        default:
            for index in 0..<count {
                let a = FloatVector(repeating: lhs[index * lhsStride])
                let b = FloatVector(repeating: rhs[index * rhsStride])
                out[index] = operation(a, b)[0]
            }
        }
    }
}
