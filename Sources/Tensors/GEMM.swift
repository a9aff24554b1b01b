import CDNNL
import CKernels
import COpenBLAS
import Foundation

/// The library behind every f32 matrix product (linear, matmul, conv2d and attention all call
/// `sgemm` here and nowhere else).
///
/// oneDNN is chosen where the CPU has AVX-512 (its AVX-512 kernels ran 1.6-2x OpenBLAS's Haswell
/// kernels there) or where OpenBLAS does not know the CPU and falls back to a generic SSE core
/// (`openblas_get_corename()` "Prescott" on a Sapphire Rapids class Xeon with Debian's 0.3.21),
/// OpenBLAS otherwise (on AVX2 the two measured the same). `OVERPAINT_GEMM` overrides the choice; an unknown value falls back to the automatic choice, and
/// `validateEnvironment()` lets a front end refuse it instead. `bf16` and `f16` are the opt-in
/// reduced precisions: operands rounded to 16 bits, products accumulated in f32 (f16: in f16
/// over short runs first).
public enum GEMMBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case openBLAS = "openblas"
    /// oneDNN's BLAS-style `dnnl_sgemm`.
    case oneDNN = "onednn"
    /// Operands rounded to bf16, products accumulated in f32, on CKernels' vdpbf16ps kernel
    /// (`ck_gemm_bf16`): oneDNN 2.6's bf16 matmul, fed f32 operands, ran a UNet evaluation 1.9x
    /// slower than this on AMD Zen 4, its operand reorders included.
    case bf16 = "bf16"
    /// Operands rounded to f16, each block scaled by a power of two into f16's range, products
    /// summed in f16 over 128 values of k and in f32 beyond, on CKernels' vfmadd231ph kernel
    /// (avx512_fp16): twice the f32 FMA rate on Sapphire Rapids class Xeons, where vdpbf16ps
    /// runs no faster than f32 FMA.
    case f16 = "f16"

    public var description: String { rawValue }

    /// The backends that compute in f32, which parity against f32 references holds for.
    public static let float32Cases: [GEMMBackend] = allCases.filter(\.isFloat32)

    public var isFloat32: Bool { self == .openBLAS || self == .oneDNN }

    /// The arithmetic's name for the manifest and the parameters: "f32", "bf16" or "f16".
    public var precisionName: String { isFloat32 ? "f32" : rawValue }

    /// This backend, or for bf16 and f16 the f32 one that runs beside them (oneDNN): for the
    /// products their kernel does not take (a transposed left operand, attention's blocked products).
    public var float32Counterpart: GEMMBackend { isFloat32 ? self : .oneDNN }

    /// The backend products run on now: a task's `override`, else the process-wide choice.
    public static var active: GEMMBackend { override ?? processDefault.value }

    /// Makes `backend` the process-wide choice (a front end's `--precision bf16`), after checking
    /// the CPU runs it at speed.
    public static func choose(_ backend: GEMMBackend) throws {
        try checkSupported(backend)
        processDefault.value = backend
    }

    /// Throws for bf16 on a CPU without avx512_bf16 and f16 on one without avx512_fp16.
    public static func checkSupported(_ backend: GEMMBackend) throws {
        if backend == .bf16 && !cpuHasAVX512BF16 { throw TensorsError.bf16Unsupported }
        if backend == .f16 && !cpuHasAVX512FP16 { throw TensorsError.f16Unsupported }
    }

    /// Runs `body` with every product started from this task on `backend` (tests run each
    /// parity case on both; the benchmark times both in one run). Ops read it once on entry,
    /// so it reaches the worker threads they spread over.
    public static func withBackend<R>(_ backend: GEMMBackend, _ body: () throws -> R) rethrows -> R {
        try $override.withValue(backend, operation: body)
    }

    /// Throws when `OVERPAINT_GEMM` is set to something that is not a backend.
    public static func validateEnvironment() throws {
        if let backend = try requested(in: ProcessInfo.processInfo.environment) { try checkSupported(backend) }
    }

    /// Whether the CPU runs oneDNN's AVX-512 kernels.
    public static let cpuHasAVX512 = effectiveISA(includes: dnnl_cpu_isa_avx512_core)

    /// Whether the CPU has AVX-512 with bf16 dot products (`avx512_bf16`).
    public static var cpuHasAVX512BF16: Bool { effectiveISA(includes: dnnl_cpu_isa_avx512_core_bf16) }

    /// Whether the CPU has AVX-512 f16 arithmetic (`avx512_fp16`; every such CPU has avx512_bf16,
    /// which the f16 kernel's packing uses too).
    public static let cpuHasAVX512FP16 = cpuHasAVX512BF16 && ck_cpu_has_avx512_fp16() != 0

    /// The reduced precisions this CPU runs: the backends `bench` and the tests add to the f32 ones.
    public static let reducedCases: [GEMMBackend] =
        (cpuHasAVX512BF16 ? [.bf16] : []) + (cpuHasAVX512FP16 ? [.f16] : [])

    @TaskLocal static var override: GEMMBackend?

    /// The f32 backend chosen for this CPU whatever `OVERPAINT_GEMM` says: the one f32 references
    /// (bf16 parity, the benchmarks' reference sgemm) run on.
    public static let automaticFloat32 = automatic(hasAVX512: cpuHasAVX512, openBLASCore: openBLASCoreName)

    /// The kernel set OpenBLAS picked for this CPU (`OPENBLAS_CORETYPE` forces one).
    public static let openBLASCoreName: String = openblas_get_corename().map { String(cString: $0) } ?? "unknown"

    /// What every product runs on, and OpenBLAS's core, in one line for `bench` and the manifest:
    /// "f32 on onednn (OpenBLAS core Prescott, generic: unused)".
    public static var productsDescription: String {
        let precision = active.precisionName
        let products = active.isFloat32 ? "\(active)" : "\(active), f32 parts on \(active.float32Counterpart)"
        let core = isGenericOpenBLASCore(openBLASCoreName) ? "\(openBLASCoreName), generic: unused" : openBLASCoreName
        return "\(precision) on \(products) (OpenBLAS core \(core))"
    }

    private static let processDefault = LockedBackend(
        ((try? requested(in: ProcessInfo.processInfo.environment)) ?? nil) ?? automaticFloat32)

    /// The backend `OVERPAINT_GEMM` names in `environment`, nil when it is unset or empty.
    static func requested(in environment: [String: String]) throws -> GEMMBackend? {
        guard let text = environment["OVERPAINT_GEMM"]?.trimmingCharacters(in: .whitespaces).lowercased(),
              !text.isEmpty else { return nil }
        guard let backend = GEMMBackend(rawValue: text) else { throw TensorsError.unknownGEMMBackend(text) }
        return backend
    }

    static func automatic(hasAVX512: Bool, openBLASCore: String) -> GEMMBackend {
        hasAVX512 || isGenericOpenBLASCore(openBLASCore) ? .oneDNN : .openBLAS
    }

    /// OpenBLAS cores with SSE kernels only, which it falls back to on a CPU newer than it knows:
    /// a product there ran at a fraction of oneDNN's rate on the same machine.
    static func isGenericOpenBLASCore(_ name: String) -> Bool {
        genericOpenBLASCores.contains(name.lowercased())
    }

    private static let genericOpenBLASCores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
        "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "generic", "unknown",
    ]

    /// oneDNN's ISA values are bit sets: a level includes every bit of the levels below it.
    private static func effectiveISA(includes level: dnnl_cpu_isa_t) -> Bool {
        dnnl_get_effective_cpu_isa().rawValue & level.rawValue == level.rawValue
    }

    /// Products with fewer rows than this run in f32 under bf16 and f16: the kernel rounds every
    /// value of the right operand anew on each call, which costs more than the faster arithmetic
    /// saves on so few rows (the Winograd products of the 8x8 and 16x16 latents, text encoders).
    static let halfPrecisionMinimumRows = 256

    /// Row-major `c = alpha * op(a) @ op(b) + beta * c` on `Parallel.blasThreadCount` threads,
    /// as single-threaded slices (`SlicedProduct`) on every backend.
    /// Empty products are handled here, as both libraries may reject their leading dimensions.
    func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>?, lda: Int, b: UnsafePointer<Float>?, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>?, ldc: Int
    ) {
        guard m > 0, n > 0, let c else { return }
        guard k > 0 else {
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] *= beta }
            }
            return
        }
        if !isFloat32 && (transposeA || m < Self.halfPrecisionMinimumRows) {
            // The kernel takes the left operand row-major, as every model passes it; a transposed
            // one runs in f32 beside it, and so does one of few rows (see halfPrecisionMinimumRows).
            return float32Counterpart.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
        FlopCounter.add(2 * m * n * k)
        switch self {
        case .openBLAS:
            OpenBLASProduct.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                                  threads: Parallel.blasThreadCount)
        case .oneDNN:
            let (plain, transposed) = (CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")))
            SlicedProduct.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda,
                              b: b, ldb: ldb, c: c, ldc: ldc, threads: Parallel.blasThreadCount) { m, n, a, b, c in
                // The OpenMP thread count belongs to the calling thread, so it is set on every call.
                omp_set_num_threads(1)
                let status = dnnl_sgemm(transposeA ? transposed : plain, transposeB ? transposed : plain, Int64(m),
                                        Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
                precondition(status == dnnl_success, "dnnl_sgemm failed (\(status.rawValue)) on m=\(m) n=\(n) k=\(k)")
            }
        case .bf16, .f16:
            guard let a, let b else { return }
            reducedProduct(transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, type: CK_VALUES_F32, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// Whether products of `rows` rows take a half tensor's stored values as they are
    /// (`productWithHalfWeight`): the bf16 and f16 backends, above their row floor.
    func multipliesStoredHalves(rows: Int) -> Bool { !isFloat32 && rows >= Self.halfPrecisionMinimumRows }

    /// `c = a @ weight^T + beta * c` with `weight` (n x k, `ldb` apart) the bit patterns of a half
    /// tensor, read in place (unaligned is fine) by the bf16 / f16 kernel, which rounds them to
    /// its format as it packs them: no widened copy in memory. Only where
    /// `multipliesStoredHalves` (the kernel takes any row count, but below the floor f32 is faster).
    func productWithHalfWeight(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, weight: UnsafeRawPointer,
        format: HalfTensor.Format, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(!isFloat32, "\(self) does not multiply half values")
        guard m > 0, n > 0, k > 0 else { return sgemm(m: m, n: n, k: 0, a: nil, lda: 1, b: nil, ldb: 1, beta: beta, c: c, ldc: ldc) }
        FlopCounter.add(2 * m * n * k)
        // Typed only so that slices can offset it; its values are read by the kernel alone.
        let bits = weight.assumingMemoryBound(to: UInt16.self)
        reducedProduct(transposeB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: bits,
                       type: format == .f16 ? CK_VALUES_F16 : CK_VALUES_BF16, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// The bf16 / f16 kernel over per-thread slices, the right operand stored as `type` says.
    private func reducedProduct<Right>(
        transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Right>, type: Int, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let format = Int32(self == .f16 ? CK_HALF_F16 : CK_HALF_BF16)
        SlicedProduct.run(transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda,
                          b: b, ldb: ldb, c: c, ldc: ldc, threads: Parallel.blasThreadCount) { m, n, a, b, c in
            guard let a, let b else { return }
            ck_gemm_half(format, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(CK_VALUES_F32),
                         lda, b, Int32(type), ldb, beta, c, ldc)
        }
    }
}

private final class LockedBackend: @unchecked Sendable {
    // @unchecked: `backend` is only touched under `lock`.
    private let lock = NSLock()
    private var backend: GEMMBackend

    init(_ backend: GEMMBackend) { self.backend = backend }

    var value: GEMMBackend {
        get { lock.withLock { backend } }
        set { lock.withLock { backend = newValue } }
    }
}
