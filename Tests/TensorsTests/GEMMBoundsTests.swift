import Foundation
import Testing
@testable import Tensors

/// Every backend writes only inside C: the last row ends right before an inaccessible page, so a
/// store past it (a vector tail, a padded tile) crashes the test instead of corrupting the heap.
@Suite struct GEMMBoundsTests {
    @Test(arguments: GEMMBackend.float32Cases)
    func productsStayInsideTheirOutput(backend: GEMMBackend) throws {
        let shapes = [(1, 1, 1), (1, 7, 40), (2, 33, 3), (3, 1, 17), (1, 4096, 40), (5, 40, 256), (17, 20, 9)]
        for (m, n, k) in shapes {
            for (ldc, transposeB) in [(n, false), (n + 5, false), (n, true), (n + 5, true)] {
                try expectProductStaysInside(backend: backend, m: m, n: n, k: k, ldc: ldc, transposeB: transposeB)
            }
        }
    }

    /// C's last element sits right before the guard page; rows are `ldc` apart.
    private func expectProductStaysInside(backend: GEMMBackend, m: Int, n: Int, k: Int, ldc: Int,
                                          transposeB: Bool) throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let count = (m - 1) * ldc + n
        let bytes = (count * 4 + pageSize - 1) / pageSize * pageSize
        let region = try #require(mmap(nil, bytes + pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(region, bytes + pageSize) }
        #expect(mprotect(region + bytes, pageSize, PROT_NONE) == 0)
        let c = (region + bytes - count * 4).bindMemory(to: Float.self, capacity: count)
        let a = [Float](repeating: 1, count: m * k)
        let b = [Float](repeating: 2, count: k * n)
        for beta: Float in [0, 1] {
            c.initialize(repeating: 1, count: count)
            backend.sgemm(transposeB: transposeB, m: m, n: n, k: k, a: a, lda: k, b: b,
                          ldb: transposeB ? k : n, beta: beta, c: c, ldc: ldc)
            let written = (0..<m).flatMap { row in (0..<n).map { row * ldc + $0 } }
            #expect(written.allSatisfy { c[$0] == Float(2 * k) + beta }, "m=\(m) n=\(n) k=\(k) ldc=\(ldc)")
            let gaps = (0..<count).filter { $0 % ldc >= n }
            #expect(gaps.allSatisfy { c[$0] == 1 }, "a product wrote between rows: m=\(m) n=\(n) ldc=\(ldc)")
        }
    }
}
