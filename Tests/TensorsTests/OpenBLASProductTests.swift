import Testing
@testable import Tensors

/// Products split over threads against a plain triple loop, for every transpose, with padded
/// leading dimensions whose gaps must stay untouched.
@Suite struct OpenBLASProductTests {
    @Test(arguments: [(200, 37, 600), (37, 300, 500), (250, 90, 300), (97, 97, 800)])
    func slicedProductsMatchTheDefinition(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(SlicedProduct.sliceCount(m: m, n: n, k: k, threads: 3) > 1, "the shape must split")
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            expectSlicedProduct(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
        }
    }

    @Test func sliceCountFollowsThreadsSizeAndWork() {
        #expect(SlicedProduct.sliceCount(m: 4096, n: 320, k: 2880, threads: 2) == 2)
        #expect(SlicedProduct.sliceCount(m: 4096, n: 320, k: 2880, threads: 1) == 1)
        #expect(SlicedProduct.sliceCount(m: 20, n: 20, k: 100_000, threads: 8) == 2, "20 rows make two 16-row slices")
        #expect(SlicedProduct.sliceCount(m: 64, n: 64, k: 64, threads: 8) == 1, "half a MFLOP is not worth a thread")
    }

    private func expectSlicedProduct(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
        let (lda, ldb, ldc) = ((transposeA ? m : k) + 3, (transposeB ? k : n) + 5, n + 7)
        let a = (0..<((transposeA ? k : m) * lda)).map { Float(($0 * 7) % 23) / 11 - 1 }
        let b = (0..<((transposeB ? n : k) * ldb)).map { Float(($0 * 5) % 19) / 9 - 1 }
        var c = [Float](repeating: 0.5, count: m * ldc)
        c.withUnsafeMutableBufferPointer { out in
            OpenBLASProduct.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                  a: a, lda: lda, b: b, ldb: ldb, beta: 2, c: out.baseAddress!, ldc: ldc, threads: 3)
        }
        var worst: Float = 0
        for row in 0..<m {
            for column in 0..<n {
                var sum: Float = 0
                for index in 0..<k {
                    let left = transposeA ? a[index * lda + row] : a[row * lda + index]
                    let right = transposeB ? b[column * ldb + index] : b[index * ldb + column]
                    sum += left * right
                }
                worst = max(worst, abs(c[row * ldc + column] - (0.5 * sum + 2 * 0.5)))
            }
        }
        #expect(worst < 1e-3, "m=\(m) n=\(n) k=\(k) transposeA=\(transposeA) transposeB=\(transposeB)")
        let gaps = (0..<(m * ldc)).filter { $0 % ldc >= n }
        #expect(gaps.allSatisfy { c[$0] == 0.5 }, "a slice wrote between rows")
    }
}
