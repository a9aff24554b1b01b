import Dispatch

/// Widening of stored weight types to `Float`, done once when a tensor is loaded.
///
/// Source bytes may be unaligned (safetensors does not promise alignment), so they are read with
/// `loadUnaligned`. Large tensors are converted on all cores.
enum ScalarConversion {
    /// Every f16 bit pattern's f32 value: one table load per element, exact for all patterns
    /// (subnormals, infinities, NaNs), and independent of F16C support in the build target.
    static let halfToFloat: [Float] = (0 ... UInt16.max).map { Float(Float16(bitPattern: $0)) }

    private static let elementsPerChunk = 1 << 16

    /// The values of `count` elements of `dtype`, or nil when `dtype` is not a floating-point type.
    static func floats(from source: UnsafeRawBufferPointer, dtype: SafeTensorsDType, count: Int) -> [Float]? {
        guard dtype.isFloatingPoint else { return nil }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            nonisolated(unsafe) let destination = out
            nonisolated(unsafe) let source = source
            let chunks = (count + elementsPerChunk - 1) / elementsPerChunk
            // Chunks read the (immutable) source and write disjoint ranges of `destination`.
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let range = chunk * elementsPerChunk ..< min(count, (chunk + 1) * elementsPerChunk)
                convert(source, dtype: dtype, range: range, into: destination)
            }
            initialized = count
        }
    }

    private static func convert(
        _ source: UnsafeRawBufferPointer, dtype: SafeTensorsDType, range: Range<Int>,
        into destination: UnsafeMutableBufferPointer<Float>
    ) {
        switch dtype {
        case .f32:
            // Little-endian host: the stored bytes are the values.
            let bytes = UnsafeRawBufferPointer(rebasing: source[range.lowerBound * 4 ..< range.upperBound * 4])
            UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(destination)[range.lowerBound * 4 ..< range.upperBound * 4])
                .copyMemory(from: bytes)
        case .f16:
            halfToFloat.withUnsafeBufferPointer { table in
                for i in range { destination[i] = table[Int(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))] }
            }
        case .bf16:
            for i in range {
                destination[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .f64:
            for i in range {
                destination[i] = Float(Double(bitPattern: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        default:
            break
        }
    }
}
