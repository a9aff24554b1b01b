import Tensors

// Elementwise maths for the schedulers' update rules. Each function rounds to Float once
// per torch operation it stands for, so results track diffusers' float32 tensors.
extension Tensor {
    /// `f(self[i])` for every element.
    func map(_ transform: (Float) -> Float) -> Tensor {
        var result = scalars
        result.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] = transform(buffer[index]) }
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// `f(self[i], other[i])` for every element; shapes must match.
    func zipMap(_ other: Tensor, _ transform: (Float, Float) -> Float) throws -> Tensor {
        guard other.shape == shape else {
            throw SchedulerError.shapeMismatch(what: "elementwise operand", expected: shape, got: other.shape)
        }
        var result = scalars
        result.withUnsafeMutableBufferPointer { buffer in
            other.scalars.withUnsafeBufferPointer { rhs in
                for index in buffer.indices { buffer[index] = transform(buffer[index], rhs[index]) }
            }
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// `a * self + b * other`, rounding as torch's three separate operations do.
    func weighted(_ a: Float, _ other: Tensor, _ b: Float) throws -> Tensor {
        try zipMap(other) { x, y in a * x + b * y }
    }

    func adding(_ other: Tensor) throws -> Tensor { try zipMap(other) { $0 + $1 } }
    func subtracting(_ other: Tensor) throws -> Tensor { try zipMap(other) { $0 - $1 } }

    /// `clamp(-limit, limit)`.
    func clamped(to limit: Float) -> Tensor { map { Swift.min(Swift.max($0, -limit), limit) } }
}
