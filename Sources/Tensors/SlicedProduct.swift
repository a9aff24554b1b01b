/// A product split into one slice of its longer output side per thread, each slice a
/// single-threaded product on that thread (GCD's, which sleep between loops).
///
/// Both libraries' own threads spin after a product: OpenBLAS's pthreads (sched_yield was 7% of
/// a UNet evaluation's CPU samples) and oneDNN's OpenMP team (libgomp's spin-wait was 22% of a
/// bf16 UNet evaluation's samples on 2 cores, AVX-512), taking a core from whatever runs between
/// products. Splitting here leaves them one thread, which never spins.
enum SlicedProduct {
    /// Row-major `c = alpha * op(a) @ op(b) + beta * c` as `product` calls over up to `threads`
    /// slices; `product` gets each slice's sizes and operands and runs single-threaded.
    /// The right operand's values may be f32 or a half tensor's bit patterns (`Right`).
    static func run<Right>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>?, lda: Int, b: UnsafePointer<Right>?, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
        _ product: (_ m: Int, _ n: Int, _ a: UnsafePointer<Float>?, _ b: UnsafePointer<Right>?,
                    _ c: UnsafeMutablePointer<Float>) -> Void
    ) {
        let slices = sliceCount(m: m, n: n, k: k, threads: threads)
        guard slices > 1 else {
            product(m, n, a, b, c)
            return
        }
        let splitsRows = m >= n
        let length = splitsRows ? m : n
        let units = (length + sliceAlignment - 1) / sliceAlignment
        Parallel.forEachRange(count: units, blocks: slices) { range in
            let first = range.lowerBound * sliceAlignment
            let count = Swift.min(range.upperBound * sliceAlignment, length) - first
            if splitsRows {
                product(count, n, a.map { transposeA ? $0 + first : $0 + first * lda }, b, c + first * ldc)
            } else {
                product(m, count, a, b.map { transposeB ? $0 + first * ldb : $0 + first }, c + first)
            }
        }
    }

    /// Slices start on multiples of the kernels' 16-wide unroll (OpenBLAS's Haswell kernels,
    /// oneDNN's AVX-512 ones), so no slice but the last runs a ragged edge.
    static let sliceAlignment = 16

    /// One slice per thread, but none under ~100 µs of work, where waking a thread costs
    /// more than it saves.
    static func sliceCount(m: Int, n: Int, k: Int, threads: Int) -> Int {
        let units = (Swift.max(m, n) + sliceAlignment - 1) / sliceAlignment
        let flops = 2 * m * n * k
        return Swift.max(1, Swift.min(threads, units, flops / minimumSliceFlops))
    }

    private static let minimumSliceFlops = 4_000_000
}
