import CDNNL
import Foundation

/// Row-major matrix products through oneDNN's matmul primitive, in f32 or in bf16.
///
/// bf16 rounds both operands to bf16 (to nearest even, as torch's `.to(torch.bfloat16)`) with
/// oneDNN reorders into packed scratch, multiplies with f32 accumulation (AMX or avx512_bf16
/// kernels) and writes f32. Primitives are JIT-compiled, so each is built once per shape and
/// cached. Every execution brings its own scratchpad and stream: the banded convolution runs
/// the same shape from several threads at once.
final class OneDNNMatmul: @unchecked Sendable {
    // @unchecked: the engine is immutable after init; the cache is guarded by `lock`.
    enum Precision: Hashable {
        case f32
        case bf16
    }

    static let shared = OneDNNMatmul()

    private let engine: dnnl_engine_t
    private let lock = NSLock()
    private var cache: [PrimitiveKey: Primitive] = [:]
    /// Shapes seen in one model run number in the hundreds; past this the cache starts over.
    private let cacheLimit = 1024

    private init() {
        var engine: dnnl_engine_t?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        guard status == dnnl_success, let engine else {
            preconditionFailure("oneDNN could not create its CPU engine (\(status.rawValue))")
        }
        self.engine = engine
    }

    /// `c = alpha * op(a) @ op(b) + beta * c` on `threads` OpenMP threads; sizes already checked
    /// by `GEMMBackend.sgemm` (m, n, k > 0).
    func multiply(
        precision: Precision, threads: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        omp_set_num_threads(Int32(threads))
        let left = StoredMatrix(rows: m, columns: k, transposed: transposeA, leading: lda)
        let right = StoredMatrix(rows: k, columns: n, transposed: transposeB, leading: ldb)
        switch precision {
        case .f32:
            run(matmul(left, right, ldc: ldc, alpha: alpha, beta: beta, type: dnnl_f32, threads: threads),
                pointers: [UnsafeMutableRawPointer(mutating: a), UnsafeMutableRawPointer(mutating: b),
                           UnsafeMutableRawPointer(c)])
        case .bf16:
            let (packedLeft, packedRight) = (left.packed, right.packed)
            let leftBuffer = UnsafeMutableRawPointer.allocate(byteCount: 2 * packedLeft.storedCount, alignment: 64)
            let rightBuffer = UnsafeMutableRawPointer.allocate(byteCount: 2 * packedRight.storedCount, alignment: 64)
            defer {
                leftBuffer.deallocate()
                rightBuffer.deallocate()
            }
            run(narrowing(left, threads: threads), pointers: [UnsafeMutableRawPointer(mutating: a), leftBuffer])
            run(narrowing(right, threads: threads), pointers: [UnsafeMutableRawPointer(mutating: b), rightBuffer])
            run(matmul(packedLeft, packedRight, ldc: ldc, alpha: alpha, beta: beta, type: dnnl_bf16, threads: threads),
                pointers: [leftBuffer, rightBuffer, UnsafeMutableRawPointer(c)])
        }
    }

    // MARK: - Primitives

    private func matmul(_ left: StoredMatrix, _ right: StoredMatrix, ldc: Int, alpha: Float, beta: Float,
                        type: dnnl_data_type_t, threads: Int) -> Primitive {
        let key = PrimitiveKey.matmul(left, right, ldc: ldc, alpha: alpha, beta: beta, bf16: type == dnnl_bf16,
                                      threads: threads)
        return cached(key) { try makeMatmul(left, right, ldc: ldc, alpha: alpha, beta: beta, type: type) }
    }

    private func narrowing(_ matrix: StoredMatrix, threads: Int) -> Primitive {
        cached(.narrowing(matrix, threads: threads)) {
            var source = matrix.storageDescriptor(type: dnnl_f32)
            var target = matrix.packed.storageDescriptor(type: dnnl_bf16)
            let attributes = try Attributes()
            var descriptor: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&descriptor, &source, engine, &target, engine,
                                                         attributes.handle), "reorder f32 -> bf16 \(matrix)")
            return try Primitive(descriptor: descriptor, arguments: [DNNL_ARG_FROM, DNNL_ARG_TO],
                                 descriptors: [source, target], engine: engine)
        }
    }

    private func makeMatmul(_ left: StoredMatrix, _ right: StoredMatrix, ldc: Int, alpha: Float, beta: Float,
                            type: dnnl_data_type_t) throws -> Primitive {
        var source = left.logicalDescriptor(type: type)
        var weights = right.logicalDescriptor(type: type)
        var destination = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_strides(&destination, 2, [Int64(left.rows), Int64(right.columns)],
                                                   dnnl_f32, [Int64(ldc), 1]), "matmul output")
        var operation = dnnl_matmul_desc_t()
        try check(dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination), "matmul \(left) x \(right)")
        let attributes = try Attributes(alpha: alpha, beta: beta)
        var descriptor: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&descriptor, &operation, attributes.handle, engine, nil),
                  "matmul \(left) x \(right)")
        return try Primitive(descriptor: descriptor, arguments: [DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST],
                             descriptors: [source, weights, destination], engine: engine)
    }

    private func cached(_ key: PrimitiveKey, make: () throws -> Primitive) -> Primitive {
        if let primitive = lock.withLock({ cache[key] }) { return primitive }
        let primitive: Primitive
        do {
            primitive = try make()
        } catch {
            preconditionFailure("\(error)")
        }
        lock.withLock {
            if cache.count >= cacheLimit { cache.removeAll() }
            cache[key] = primitive
        }
        return primitive
    }

    /// Executes `primitive` on `pointers` (in its argument order) with a scratchpad of its own.
    private func run(_ primitive: Primitive, pointers: [UnsafeMutableRawPointer]) {
        let scratchpad = UnsafeMutableRawPointer.allocate(byteCount: max(64, primitive.scratchpadBytes), alignment: 64)
        defer { scratchpad.deallocate() }
        var memories: [dnnl_memory_t?] = []
        defer { memories.forEach { dnnl_memory_destroy($0) } }
        var arguments: [dnnl_exec_arg_t] = []
        for (index, var descriptor) in primitive.descriptors.enumerated() {
            memories.append(memory(&descriptor, pointers[index]))
            arguments.append(dnnl_exec_arg_t(arg: primitive.arguments[index], memory: memories[index]))
        }
        var scratchpadDescriptor = primitive.scratchpadDescriptor
        memories.append(memory(&scratchpadDescriptor, scratchpad))
        arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memories[memories.count - 1]))
        var stream: dnnl_stream_t?
        precondition(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
                     "oneDNN could not create a stream")
        defer { dnnl_stream_destroy(stream) }
        withExtendedLifetime(primitive) {
            let status = dnnl_primitive_execute(primitive.handle, stream, Int32(arguments.count), arguments)
            precondition(status == dnnl_success && dnnl_stream_wait(stream) == dnnl_success,
                         "oneDNN primitive failed (\(status.rawValue))")
        }
    }

    private func memory(_ descriptor: inout dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) -> dnnl_memory_t? {
        var memory: dnnl_memory_t?
        precondition(dnnl_memory_create(&memory, &descriptor, engine, pointer) == dnnl_success,
                     "oneDNN could not wrap a buffer")
        return memory
    }
}

/// One operand as it sits in memory: logically `rows x columns`, stored row-major with
/// `leading` elements per stored row, as its transpose when `transposed` (BLAS's convention).
struct StoredMatrix: Hashable, CustomStringConvertible {
    let rows: Int
    let columns: Int
    let transposed: Bool
    let leading: Int

    var storedRows: Int { transposed ? columns : rows }
    var storedColumns: Int { transposed ? rows : columns }
    var storedCount: Int { storedRows * storedColumns }

    /// The same orientation without padding between stored rows.
    var packed: StoredMatrix { StoredMatrix(rows: rows, columns: columns, transposed: transposed, leading: storedColumns) }

    var description: String { "[\(rows), \(columns)]\(transposed ? "^T" : "") ld \(leading)" }

    /// The logical matrix, its transpose expressed by strides.
    func logicalDescriptor(type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        let strides: [Int64] = transposed ? [1, Int64(leading)] : [Int64(leading), 1]
        return descriptor(dims: [Int64(rows), Int64(columns)], strides: strides, type: type)
    }

    /// The stored matrix, row by row, as the narrowing reorder copies it.
    func storageDescriptor(type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        descriptor(dims: [Int64(storedRows), Int64(storedColumns)], strides: [Int64(leading), 1], type: type)
    }

    private func descriptor(dims: [Int64], strides: [Int64], type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var descriptor = dnnl_memory_desc_t()
        let status = dnnl_memory_desc_init_by_strides(&descriptor, 2, dims, type, strides)
        precondition(status == dnnl_success, "oneDNN rejected the layout of \(self) (\(status.rawValue))")
        return descriptor
    }
}

private enum PrimitiveKey: Hashable {
    case matmul(StoredMatrix, StoredMatrix, ldc: Int, alpha: Float, beta: Float, bf16: Bool, threads: Int)
    case narrowing(StoredMatrix, threads: Int)
}

/// A compiled primitive, the memory layouts of its arguments and its scratchpad's size.
private final class Primitive: @unchecked Sendable {
    // @unchecked: immutable after init; oneDNN primitives may execute concurrently given separate
    // scratchpads.
    let handle: dnnl_primitive_t
    let arguments: [Int32]
    let descriptors: [dnnl_memory_desc_t]
    let scratchpadDescriptor: dnnl_memory_desc_t
    let scratchpadBytes: Int

    init(descriptor: dnnl_primitive_desc_t?, arguments: [Int32], descriptors: [dnnl_memory_desc_t],
         engine: dnnl_engine_t) throws {
        defer { dnnl_primitive_desc_destroy(descriptor) }
        guard let scratchpad = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0) else {
            throw OneDNNFailure(what: "scratchpad query", status: dnnl_runtime_error)
        }
        scratchpadDescriptor = scratchpad.pointee
        scratchpadBytes = dnnl_memory_desc_get_size(scratchpad)
        var handle: dnnl_primitive_t?
        try check(dnnl_primitive_create(&handle, descriptor), "primitive creation")
        guard let handle else { throw OneDNNFailure(what: "primitive creation", status: dnnl_runtime_error) }
        self.handle = handle
        self.arguments = arguments
        self.descriptors = descriptors
    }

    deinit { dnnl_primitive_destroy(handle) }
}

/// Primitive attributes: a user-managed scratchpad, and `alpha` and `beta` as BLAS uses them.
private final class Attributes {
    let handle: dnnl_primitive_attr_t

    init(alpha: Float = 1, beta: Float = 0) throws {
        var handle: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&handle), "attributes")
        guard let handle else { throw OneDNNFailure(what: "attributes", status: dnnl_out_of_memory) }
        self.handle = handle
        try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "scratchpad mode")
        if alpha != 1 {
            var scale = alpha
            try check(dnnl_primitive_attr_set_output_scales(handle, 1, 0, &scale), "output scale")
        }
        if beta != 0 {
            var postOps: dnnl_post_ops_t?
            try check(dnnl_post_ops_create(&postOps), "post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            try check(dnnl_post_ops_append_sum(postOps, beta), "sum post-op")
            try check(dnnl_primitive_attr_set_post_ops(handle, postOps), "post-ops")
        }
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

private struct OneDNNFailure: Error, CustomStringConvertible {
    let what: String
    let status: dnnl_status_t
    var description: String { "oneDNN failed at \(what) (status \(status.rawValue))" }
}

private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    guard status == dnnl_success else { throw OneDNNFailure(what: what(), status: status) }
}
