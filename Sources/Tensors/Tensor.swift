/// A dense f32 tensor, row-major (activations are NCHW).
///
/// Storage is a Swift array, so copies are copy-on-write and hot loops run over
/// `withUnsafe(Mutable)BufferPointer`.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Builds a tensor whose every scalar `body` writes; skips the zero fill of `init(zeros:)`.
    ///
    /// `body` must initialise the whole buffer.
    public init(shape: [Int], initializingWith body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = shape.reduce(1, *)
        let scalars = try [Float](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            try body(buffer)
            initializedCount = count
        }
        self.init(shape: shape, scalars: scalars)
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// The scalar at a full multi-index (row-major); for tests and setup code, not hot loops.
    public subscript(_ indices: Int...) -> Float {
        get { scalars[flatIndex(indices)] }
        set { scalars[flatIndex(indices)] = newValue }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Elements per step along each axis (row-major).
    public var strides: [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "index \(indices) does not match shape \(shape)")
        var flat = 0
        for (axis, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[axis], "index \(indices) out of range for shape \(shape)")
            flat = flat * shape[axis] + index
        }
        return flat
    }
}
