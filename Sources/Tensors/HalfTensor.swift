import CKernels

/// f16 or bf16 values kept as a checkpoint stores them, two bytes each, so a model's weights take
/// half the memory of f32; they are widened to f32 a panel at a time where they are used.
///
/// The bytes are read in place (a memory-mapped file, say) for as long as `owner` lives, and may
/// be unaligned, as safetensors promises no alignment.
public struct HalfTensor: Sendable {
    public enum Format: Sendable, Equatable {
        case f16
        case bf16
    }

    public let shape: [Int]
    /// One reference, so a `WeightTensor` is no larger than a `Tensor`: layers are stored inline in
    /// large model structs, which debug builds copy on the stack.
    private let storage: HalfStorage

    public var format: Format { storage.format }

    /// Values read in place from `bytes`; `owner` must keep them alive and unchanged.
    public init(shape: [Int], format: Format, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        let count = shape.reduce(1, *)
        precondition(bytes.count == 2 * count, "half tensor \(shape) needs \(2 * count) bytes, got \(bytes.count)")
        self.shape = shape
        storage = HalfStorage(format: format, bytes: bytes.baseAddress, owner: owner)
    }

    /// Values given as their bit patterns, copied into storage this tensor owns.
    public init(shape: [Int], format: Format, bitPatterns: [UInt16]) {
        precondition(shape.reduce(1, *) == bitPatterns.count,
                     "half tensor \(shape) needs \(shape.reduce(1, *)) values, got \(bitPatterns.count)")
        self.shape = shape
        storage = HalfStorage(format: format, copying: bitPatterns)
    }

    /// `tensor`'s values rounded to `format` (to nearest even), in storage this tensor owns.
    public init(narrowing tensor: Tensor, to format: Format) {
        shape = tensor.shape
        storage = HalfStorage(format: format, count: tensor.count) { destination in
            tensor.withUnsafeBufferPointer { values in Self.narrow(values, to: format, into: destination) }
        }
    }

    /// Rounds `values` to `format`'s bit patterns (nearest even; NaNs stay NaNs) into
    /// `destination`, on all threads.
    public static func narrow(_ values: UnsafeBufferPointer<Float>, to format: Format,
                              into destination: UnsafeMutablePointer<UInt16>) {
        guard let source = values.baseAddress else { return }
        Parallel.forEachRange(count: values.count, minimumBlock: 1 << 16) { block in
            let (from, to) = (source + block.lowerBound, destination + block.lowerBound)
            switch format {
            case .f16: HalfConversion.narrowToF16(from, into: to, count: block.count)
            case .bf16:
                for index in 0..<block.count { to[index] = HalfConversion.bf16Bits(from[index]) }
            }
        }
    }

    private init(shape: [Int], storage: HalfStorage) {
        self.shape = shape
        self.storage = storage
    }

    public var count: Int { shape.reduce(1, *) }

    /// The same values under another shape of the same count.
    public func reshaped(_ newShape: [Int]) -> HalfTensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return HalfTensor(shape: newShape, storage: storage)
    }

    /// Rows `rows` along the first axis (as when a fused q/k/v weight is split), still in place.
    public func rows(_ rows: Range<Int>) -> HalfTensor {
        precondition(shape.count >= 1 && rows.lowerBound >= 0 && rows.upperBound <= shape[0],
                     "rows \(rows) out of range for \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        return HalfTensor(shape: [rows.count] + shape.dropFirst(),
                          storage: HalfStorage(format: format, bytes: storage.bytes + 2 * rows.lowerBound * rowSize,
                                               owner: storage))
    }

    /// Every value as f32.
    public func floatTensor() -> Tensor {
        Tensor(shape: shape) { out in
            guard let base = out.baseAddress else { return }
            widen(0..<count, into: base)
        }
    }

    /// Calls `body` with the stored bit patterns (two bytes a value, maybe unaligned), which stay
    /// valid until it returns.
    func withStoredBits<R>(_ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.bytes) }
    }

    /// Widens the elements in `range` into `destination[0..<range.count]`, on all threads.
    func widen(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        let source = storage.bytes + 2 * range.lowerBound
        let format = self.format
        Parallel.forEachRange(count: range.count, minimumBlock: 1 << 16) { block in
            switch format {
            case .f16: HalfConversion.widenF16(source + 2 * block.lowerBound, into: destination + block.lowerBound, count: block.count)
            case .bf16: HalfConversion.widenBF16(source + 2 * block.lowerBound, into: destination + block.lowerBound, count: block.count)
            }
        }
    }
}

/// Where a half tensor's bytes are, and what keeps them alive: another object (a memory-mapped
/// file, a larger tensor), or an allocation of its own.
private final class HalfStorage: @unchecked Sendable {
    // @unchecked: nothing here changes after init, and the bytes are never written once filled.
    let format: HalfTensor.Format
    let bytes: UnsafeRawPointer
    private let owner: AnyObject?
    private let allocation: UnsafeMutableRawPointer?

    init(format: HalfTensor.Format, bytes: UnsafeRawPointer?, owner: AnyObject) {
        self.format = format
        self.owner = owner
        if let bytes {
            self.bytes = bytes
            allocation = nil
        } else {
            // An empty tensor reads nothing, but every tensor gets a real address.
            let allocation = UnsafeMutableRawPointer.allocate(byteCount: 2, alignment: 2)
            self.allocation = allocation
            self.bytes = UnsafeRawPointer(allocation)
        }
    }

    init(format: HalfTensor.Format, copying bitPatterns: [UInt16]) {
        let allocation = UnsafeMutableRawPointer.allocate(byteCount: max(2, 2 * bitPatterns.count), alignment: 16)
        bitPatterns.withUnsafeBytes { source in
            if let base = source.baseAddress { allocation.copyMemory(from: base, byteCount: source.count) }
        }
        self.format = format
        self.owner = nil
        self.allocation = allocation
        bytes = UnsafeRawPointer(allocation)
    }

    /// `count` values written by `fill` into storage of its own.
    init(format: HalfTensor.Format, count: Int, fill: (UnsafeMutablePointer<UInt16>) -> Void) {
        let allocation = UnsafeMutableRawPointer.allocate(byteCount: max(2, 2 * count), alignment: 64)
        fill(allocation.bindMemory(to: UInt16.self, capacity: max(1, count)))
        self.format = format
        self.owner = nil
        self.allocation = allocation
        bytes = UnsafeRawPointer(allocation)
    }

    deinit { allocation?.deallocate() }
}

/// Half-to-single conversion in plain integer and float arithmetic, so it vectorises for any
/// x86-64 target (the build assumes no F16C, and `Float(Float16)` is then a library call per value);
/// where the CPU has AVX-512, f16 goes through its conversion instruction instead (the loop
/// below did not vectorise: 4% of a UNet evaluation's samples, AVX-512, f16 weights).
enum HalfConversion {
    /// f16 bits as f32: the exponent and mantissa are moved into f32 position and the value
    /// rescaled by 2^112, which is exact for normal and subnormal halves alike; infinities and
    /// NaNs (exponent all ones) get the f32 all-ones exponent instead.
    @inline(__always)
    static func float(fromF16 bits: UInt16) -> Float {
        let word = UInt32(bits)
        let magnitude = (word & 0x7FFF) << 13
        let sign = (word & 0x8000) << 16
        let finite = (Float(bitPattern: magnitude) * 0x1p112).bitPattern
        let special = magnitude | 0x7F80_0000
        return Float(bitPattern: (magnitude >= 0x0F80_0000 ? special : finite) | sign)
    }

    static func widenF16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        if GEMMBackend.cpuHasAVX512 {
            ck_widen_f16(source, destination, count)
        } else {
            widenF16Portably(source, into: destination, count: count)
        }
    }

    static func widenF16Portably(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count {
            destination[index] = float(fromF16: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        }
    }

    /// f32 as f16 bits, to nearest even: F16C's instruction where the CPU has it (every AVX2 CPU),
    /// else `Float16(_:)`, which a baseline x86-64 build makes a library call per value (15% of a
    /// LoRA run's samples went there, rounding fused weights).
    static func narrowToF16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        if hasF16C {
            ck_narrow_f16(source, destination, count)
        } else {
            for index in 0..<count { destination[index] = Float16(source[index]).bitPattern }
        }
    }

    static let hasF16C = ck_cpu_has_f16c() != 0

    /// f32 as bf16 bits: its top half, rounded to nearest even; NaNs stay quiet NaNs.
    static func bf16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// bf16 is the top half of an f32.
    static func widenBF16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count {
            destination[index] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)) << 16)
        }
    }
}
