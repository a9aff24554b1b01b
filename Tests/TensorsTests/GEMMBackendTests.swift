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

    @Test func bf16IsRefusedExactlyWhereTheCPULacksAVX512BF16() {
        if GEMMBackend.cpuHasAVX512BF16 {
            #expect(throws: Never.self) { try GEMMBackend.checkSupported(.bf16) }
        } else {
            #expect(throws: TensorsError.bf16Unsupported) { try GEMMBackend.checkSupported(.bf16) }
        }
        for backend in GEMMBackend.float32Cases {
            #expect(throws: Never.self) { try GEMMBackend.checkSupported(backend) }
        }
    }

    /// Operands are rounded to bf16 to nearest, ties to even (torch's rounding), then multiplied
    /// exactly: 1 + 2^-8 is a tie and goes down to 1, 1 + 3 * 2^-8 goes up to 1 + 2^-6, and
    /// 1 + 2^-8 + 2^-20 is above the tie and goes up to 1 + 2^-7.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512BF16, "this CPU has no avx512_bf16"),
          arguments: [false, true])
    func bf16RoundsOperandsToNearestEven(transposeB: Bool) {
        let a: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20]
        let b: [Float] = [1, 4, 16]
        var c: [Float] = [0]
        c.withUnsafeMutableBufferPointer { cs in
            GEMMBackend.bf16.sgemm(transposeB: transposeB, m: 1, n: 1, k: 3, a: a, lda: 3, b: b, ldb: transposeB ? 3 : 1,
                          c: cs.baseAddress, ldc: 1)
        }
        #expect(c == [1 + 4 * (1 + 0x1p-6) + 16 * (1 + 0x1p-7)])
        // The right operand is rounded the same way.
        c.withUnsafeMutableBufferPointer { cs in
            GEMMBackend.bf16.sgemm(transposeB: transposeB, m: 1, n: 1, k: 3, a: b, lda: 3, b: a, ldb: transposeB ? 3 : 1,
                          c: cs.baseAddress, ldc: 1)
        }
        #expect(c == [1 + 4 * (1 + 0x1p-6) + 16 * (1 + 0x1p-7)])
    }

    /// A product larger than every block of the bf16 kernel (k, columns and rows all past one
    /// block, ragged at every edge) against the definition on bf16-rounded operands, summed in
    /// Double; only the f32 accumulation order may differ.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512BF16, "this CPU has no avx512_bf16"),
          arguments: [false, true])
    func bf16ProductAcrossBlocksMatchesRoundedOperands(transposeB: Bool) {
        let (m, n, k, pad) = (131, 407, 1031, 5)
        var generator = TorchGenerator(seed: 3)
        let a = generator.randn([m * (k + pad)]).scalars
        let b = generator.randn([k * (n + pad) + pad]).scalars
        let (lda, ldb, ldc) = (k + pad, transposeB ? k + pad : n + pad, n + pad)
        let fill = generator.randn([m * ldc]).scalars
        var c = fill
        c.withUnsafeMutableBufferPointer { cs in
            GEMMBackend.bf16.sgemm(transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                          beta: 2, c: cs.baseAddress, ldc: ldc)
        }
        var worst = 0.0
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0
                for inner in 0..<k {
                    let y = transposeB ? b[column * ldb + inner] : b[inner * ldb + column]
                    sum += Double(roundedToBF16(a[row * lda + inner])) * Double(roundedToBF16(y))
                }
                let expected = 0.5 * sum + 2 * Double(fill[row * ldc + column])
                worst = max(worst, abs(expected - Double(c[row * ldc + column])))
            }
            // Padding between rows is never written.
            #expect(Array(c[(row * ldc + n)..<(row * ldc + ldc)]) == Array(fill[(row * ldc + n)..<(row * ldc + ldc)]))
        }
        // The sums are about sqrt(k) ~ 32 in size; f32 accumulation over 1031 terms errs by ~1e-5.
        #expect(worst < 1e-3)
    }

    /// Round to nearest, ties to even, as torch's `.to(torch.bfloat16)`.
    private func roundedToBF16(_ value: Float) -> Float {
        let bits = value.bitPattern
        return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
    }

    @Test func bf16PairsWithOneDNNForF32Products() {
        #expect(GEMMBackend.bf16.float32Counterpart == .oneDNN)
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

    /// Small integers are exact in bf16, so the bf16 backend must match exactly too.
    @Test(.enabled(if: GEMMBackend.cpuHasAVX512BF16, "this CPU has no avx512_bf16"),
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func bf16ProductOfSmallIntegersIsExact(transposes: (Bool, Bool)) {
        expectProductMatchesItsDefinition(backend: .bf16, transposes: transposes)
    }

    private func expectProductMatchesItsDefinition(backend: GEMMBackend, transposes: (Bool, Bool)) {
        let (m, n, k, pad) = (5, 7, 6, 3)
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
