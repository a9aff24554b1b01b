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

    @Test func oneDNNIsChosenOnlyWithAVX512() {
        #expect(GEMMBackend.automatic(hasAVX512: true) == .oneDNN)
        #expect(GEMMBackend.automatic(hasAVX512: false) == .openBLAS)
    }

    @Test func overrideReachesTheActiveBackend() {
        for backend in GEMMBackend.allCases {
            #expect(GEMMBackend.withBackend(backend) { GEMMBackend.active } == backend)
        }
    }

    /// Both libraries, with every transpose, a leading dimension wider than the matrix, alpha and
    /// beta; expected values from the definition, summed in Double.
    @Test(arguments: GEMMBackend.allCases, [(false, false), (true, false), (false, true), (true, true)])
    func productMatchesItsDefinition(backend: GEMMBackend, transposes: (Bool, Bool)) {
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
