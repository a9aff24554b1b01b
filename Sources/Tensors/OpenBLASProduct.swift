import COpenBLAS
import Glibc

/// OpenBLAS products, single-threaded, with the threading done by `SlicedProduct`. Measured on
/// 2 cores, three runs of each build alternating, against OpenBLAS's own threads: UNet
/// evaluation 26.5 s against 27.8 s, VAE decode 37.9 s against 38.5 s, the same-run reference
/// product unchanged (70-73 GFLOP/s).
enum OpenBLASProduct {
    /// Row-major `c = alpha * op(a) @ op(b) + beta * c` on up to `threads` threads.
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>?, lda: Int, b: UnsafePointer<Float>?, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        SlicedProduct.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b,
                          ldb: ldb, c: c, ldc: ldc, threads: threads) { m, n, a, b, c in
            call(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    private static func call(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>?, _ lda: Int, _ b: UnsafePointer<Float>?, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        warmThisThread()
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Runs one 2048x1024 product (64 MFLOP) the first time a thread calls OpenBLAS (the thread
    /// is marked first, so that product's own `call` does not recurse). Debian's
    /// OpenBLAS 0.3.21 (Haswell kernels on the Zen 1 development machine) runs a thread's
    /// single-threaded products at 10 instead of 37 GFLOP/s, all in its kernel, until a
    /// product with a large output has run: the UNet's 320-channel convolutions stay slow on
    /// their own, and here one such product on the first thread did not end it for GCD's
    /// threads. The cause is inside OpenBLAS and unknown; 256x1024 and 16384x256 outputs, or
    /// K=1, do not end it.
    private static func warmThisThread() {
        guard pthread_getspecific(warmedKey) == nil else { return }
        pthread_setspecific(warmedKey, UnsafeRawPointer(bitPattern: 1))
        let (m, n, k) = (2048, 1024, 16)
        let a = [Float](repeating: 0, count: m * k)
        let b = [Float](repeating: 0, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        c.withUnsafeMutableBufferPointer { c in
            call(false, false, m, n, k, 1, a, k, b, n, 0, c.baseAddress!, n)
        }
    }

    /// Marks the threads that have run `warmThisThread`; made once, when OpenBLAS is first
    /// used, which is also when OpenBLAS is fixed at one thread.
    private static let warmedKey: pthread_key_t = {
        openblas_set_num_threads(1)
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
