import Testing
@testable import Tensors

@Suite struct GEMMBackendTests {
    @Test func environmentNamesABackend() throws {
        #expect(try GEMMBackend.requested(in: ["OVERPAINT_GEMM": "onednn"]) == .oneDNN)
        #expect(try GEMMBackend.requested(in: ["OVERPAINT_GEMM": " OpenBLAS "]) == .openBLAS)
        #expect(try GEMMBackend.requested(in: ["OVERPAINT_GEMM": ""]) == nil)
        #expect(try GEMMBackend.requested(in: [:]) == nil)
    }

    @Test func unknownBackendIsRefusedByName() {
        #expect(throws: TensorsError.unknownGEMMBackend("mkl")) {
            try GEMMBackend.requested(in: ["OVERPAINT_GEMM": "mkl"])
        }
        let message = TensorsError.unknownGEMMBackend("mkl").errorDescription ?? ""
        #expect(message.contains("OVERPAINT_GEMM=mkl") && message.contains("openblas") && message.contains("onednn"))
    }

    @Test func oneDNNIsChosenWithAVX512OrWhereOpenBLASRunsAGenericCore() {
        #expect(GEMMBackend.automatic(hasAVX512: true, openBLASCore: "Haswell") == .oneDNN)
        #expect(GEMMBackend.automatic(hasAVX512: false, openBLASCore: "Haswell") == .openBLAS)
        #expect(GEMMBackend.automatic(hasAVX512: false, openBLASCore: "Zen") == .openBLAS)
        #expect(GEMMBackend.automatic(hasAVX512: false, openBLASCore: "Prescott") == .oneDNN)
        #expect(GEMMBackend.automatic(hasAVX512: true, openBLASCore: "Prescott") == .oneDNN)
    }

    /// The line `bench` prints and the manifest records names OpenBLAS's core as OpenBLAS itself
    /// reports it, and says when that core is left unused.
    @Test func productsDescriptionNamesTheBackendAndOpenBLASCore() {
        let line = GEMMBackend.withBackend(.oneDNN) { GEMMBackend.productsDescription }
        #expect(line.hasPrefix("f32 on onednn (OpenBLAS core \(GEMMBackend.openBLASCoreName)"))
        #expect(line.contains("generic: unused") == GEMMBackend.isGenericOpenBLASCore(GEMMBackend.openBLASCoreName))
        #expect(GEMMBackend.isGenericOpenBLASCore("Prescott") && !GEMMBackend.isGenericOpenBLASCore("SkylakeX"))
    }

    @Test func reducedPrecisionIsRefusedExactlyWhereTheCPULacksIt() {
        if GEMMBackend.cpuHasAVX512BF16 {
            #expect(throws: Never.self) { try GEMMBackend.checkSupported(.bf16) }
        } else {
            #expect(throws: TensorsError.bf16Unsupported) { try GEMMBackend.checkSupported(.bf16) }
        }
        if GEMMBackend.cpuHasAVX512FP16 {
            #expect(throws: Never.self) { try GEMMBackend.checkSupported(.f16) }
        } else {
            #expect(throws: TensorsError.f16Unsupported) { try GEMMBackend.checkSupported(.f16) }
        }
        #expect(GEMMBackend.reducedCases == [.bf16, .f16].filter { (try? GEMMBackend.checkSupported($0)) != nil })
        for backend in GEMMBackend.float32Cases {
            #expect(throws: Never.self) { try GEMMBackend.checkSupported(backend) }
        }
    }

    /// Operands are rounded to nearest, ties to even (torch's rounding), then multiplied exactly.
    /// With u the format's half step (2^-8 bf16, 2^-11 f16): 1 + u is a tie and goes down to 1,
    /// 1 + 3u goes up to 1 + 4u, and 1 + u + 2^-20 is above the tie and goes up to 1 + 2u.
    /// The left operand repeats one row, enough rows for the reduced kernel to take the product.
    @Test(arguments: GEMMBackend.reducedCases, [false, true])
    func reducedPrecisionRoundsOperandsToNearestEven(backend: GEMMBackend, transposeB: Bool) {
        let u: Float = backend == .f16 ? 0x1p-11 : 0x1p-8
        let rows = GEMMBackend.halfPrecisionMinimumRows
        let a: [Float] = [1 + u, 1 + 3 * u, 1 + u + 0x1p-20]
        let b: [Float] = [1, 4, 16]
        let expected = [Float](repeating: 1 + 4 * (1 + 4 * u) + 16 * (1 + 2 * u), count: rows)
        var c = [Float](repeating: 0, count: rows)
        c.withUnsafeMutableBufferPointer { cs in
            backend.sgemm(transposeB: transposeB, m: rows, n: 1, k: 3, a: Array(repeating: a, count: rows).flatMap { $0 },
                          lda: 3, b: b, ldb: transposeB ? 3 : 1, c: cs.baseAddress, ldc: 1)
        }
        #expect(c == expected)
        // The right operand is rounded the same way.
        c.withUnsafeMutableBufferPointer { cs in
            backend.sgemm(transposeB: transposeB, m: rows, n: 1, k: 3, a: Array(repeating: b, count: rows).flatMap { $0 },
                          lda: 3, b: a, ldb: transposeB ? 3 : 1, c: cs.baseAddress, ldc: 1)
        }
        #expect(c == expected)
    }

    /// Fewer rows than the reduced kernels take run in f32: the same product on one row is exact.
    @Test(arguments: GEMMBackend.reducedCases)
    func reducedPrecisionLeavesProductsOfFewRowsToF32(backend: GEMMBackend) {
        let a: [Float] = [1 + 0x1p-12, 1 + 3 * 0x1p-12]
        var c: [Float] = [0]
        c.withUnsafeMutableBufferPointer { cs in
            backend.sgemm(m: 1, n: 1, k: 2, a: a, lda: 2, b: [1, 4], ldb: 1, c: cs.baseAddress, ldc: 1)
        }
        #expect(c == [1 + 0x1p-12 + 4 * (1 + 3 * 0x1p-12)])
    }

    /// A product larger than every block of the kernel (k, columns and rows all past one block,
    /// ragged at every edge) against the definition on rounded operands, summed in Double. bf16
    /// sums in f32, so only the order may differ; f16 sums runs of 256 values of k (128 in each
    /// lane of a pair) in f16 first, which errs by about u * sqrt(128 / 6) of a sum's size (0.23%).
    @Test(arguments: GEMMBackend.reducedCases, [false, true])
    func reducedProductAcrossBlocksMatchesRoundedOperands(backend: GEMMBackend, transposeB: Bool) {
        let (m, n, k, pad) = (301, 407, 1031, 5)
        var generator = TorchGenerator(seed: 3)
        let a = generator.randn([m * (k + pad)]).scalars
        let b = generator.randn([k * (n + pad) + pad]).scalars
        let (lda, ldb, ldc) = (k + pad, transposeB ? k + pad : n + pad, n + pad)
        let fill = generator.randn([m * ldc]).scalars
        var c = fill
        c.withUnsafeMutableBufferPointer { cs in
            backend.sgemm(transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                          beta: 2, c: cs.baseAddress, ldc: ldc)
        }
        var (worst, squaredError, squaredSum) = (0.0, 0.0, 0.0)
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0
                for inner in 0..<k {
                    let y = transposeB ? b[column * ldb + inner] : b[inner * ldb + column]
                    sum += Double(rounded(a[row * lda + inner], to: backend)) * Double(rounded(y, to: backend))
                }
                let error = 0.5 * sum + 2 * Double(fill[row * ldc + column]) - Double(c[row * ldc + column])
                worst = max(worst, abs(error))
                squaredError += error * error
                squaredSum += 0.25 * sum * sum
            }
            // Padding between rows is never written.
            #expect(Array(c[(row * ldc + n)..<(row * ldc + ldc)]) == Array(fill[(row * ldc + n)..<(row * ldc + ldc)]))
        }
        // The sums are about sqrt(k) ~ 32 in size; f32 accumulation over 1031 terms errs by ~1e-5.
        if backend == .bf16 {
            #expect(worst < 1e-3)
        } else {
            let relative = (squaredError / squaredSum).squareRoot()
            #expect(relative > 1e-5 && relative < 2.5e-3, "relative RMS error \(relative)")
        }
    }

    /// f16 holds magnitudes up to 65504 only: blocks far outside it are scaled by a power of two
    /// into it, so a product of values near 10^4 and 10^3 (10^9 in all) and one of values near
    /// 10^-6 (below f16's normal range) keep f16's relative precision, not infinities or zeros.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512FP16, "this CPU has no avx512_fp16"),
          arguments: [(Float(1e4), Float(1e3)), (Float(1e-6), Float(1e-6)), (Float(3e-3), Float(2e5))])
    func f16ScalesBlocksIntoItsRange(magnitudes: (Float, Float)) {
        let (m, n, k) = (GEMMBackend.halfPrecisionMinimumRows + 17, 50, 300)
        var generator = TorchGenerator(seed: 5)
        let a = generator.randn([m * k]).scalars.map { $0 * magnitudes.0 }
        let b = generator.randn([k * n]).scalars.map { $0 * magnitudes.1 }
        var c = [Float](repeating: 0, count: m * n), reference = c
        c.withUnsafeMutableBufferPointer { cs in
            GEMMBackend.f16.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: cs.baseAddress, ldc: n)
        }
        reference.withUnsafeMutableBufferPointer { cs in
            GEMMBackend.oneDNN.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: cs.baseAddress, ldc: n)
        }
        let squaredError = zip(c, reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        let squaredSum = reference.map { Double($0) * Double($0) }.reduce(0, +)
        #expect(c.allSatisfy { $0.isFinite })
        #expect((squaredError / squaredSum).squareRoot() < 2.5e-3)
    }

    /// Round to nearest, ties to even, as torch's `.to(torch.bfloat16)` and `.to(torch.float16)`.
    private func rounded(_ value: Float, to backend: GEMMBackend) -> Float {
        if backend == .f16 { return Float(Float16(value)) }
        let bits = value.bitPattern
        return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
    }

    @Test func reducedPrecisionsPairWithOneDNNForF32Products() {
        #expect(GEMMBackend.bf16.float32Counterpart == .oneDNN && GEMMBackend.f16.float32Counterpart == .oneDNN)
        #expect(GEMMBackend.float32Cases.allSatisfy { $0.float32Counterpart == $0 })
    }

    @Test func overrideReachesTheActiveBackend() {
        for backend in GEMMBackend.float32Cases {
            #expect(GEMMBackend.withBackend(backend) { GEMMBackend.active } == backend)
        }
    }

    /// Both libraries, with every transpose, a leading dimension wider than the matrix, alpha and
    /// beta; expected values from the definition, summed in Double.
    @Test(arguments: GEMMBackend.float32Cases, [(false, false), (true, false), (false, true), (true, true)])
    func productMatchesItsDefinition(backend: GEMMBackend, transposes: (Bool, Bool)) {
        expectProductMatchesItsDefinition(backend: backend, transposes: transposes)
    }

    /// Small integers and their sums here are exact in bf16 and f16, so those backends must
    /// match exactly too.
    @Test(arguments: GEMMBackend.reducedCases, [(false, false), (true, false), (false, true), (true, true)])
    func reducedProductOfSmallIntegersIsExact(backend: GEMMBackend, transposes: (Bool, Bool)) {
        expectProductMatchesItsDefinition(backend: backend, transposes: transposes,
                                          rows: GEMMBackend.halfPrecisionMinimumRows + 5)
    }

    private func expectProductMatchesItsDefinition(backend: GEMMBackend, transposes: (Bool, Bool), rows m: Int = 5) {
        let (n, k, pad) = (7, 6, 3)
        let a = (0..<(m * (k + pad) + k * (m + pad))).map { Float(($0 * 7) % 11) - 5 }
        let b = (0..<(k * (n + pad) + n * (k + pad))).map { Float(($0 * 5) % 13) - 6 }
        let (lda, ldb, ldc) = (transposes.0 ? m + pad : k + pad, transposes.1 ? k + pad : n + pad, n + pad)
        var c = (0..<(m * ldc)).map { Float($0 % 4) }
        var expected = c
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0
                for inner in 0..<k {
                    let x = transposes.0 ? a[inner * lda + row] : a[row * lda + inner]
                    let y = transposes.1 ? b[column * ldb + inner] : b[inner * ldb + column]
                    sum += Double(x) * Double(y)
                }
                expected[row * ldc + column] = Float(0.5 * sum + 2 * Double(c[row * ldc + column]))
            }
        }
        c.withUnsafeMutableBufferPointer { cs in
            backend.sgemm(transposeA: transposes.0, transposeB: transposes.1, m: m, n: n, k: k, alpha: 0.5,
                          a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: cs.baseAddress, ldc: ldc)
        }
        #expect(c == expected)
    }
}
