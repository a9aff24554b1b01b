import COpenBLAS
import Dispatch
import Foundation

/// Data-parallel loops over `DispatchQueue.concurrentPerform`, and the one thread count that
/// both they and OpenBLAS use.
///
/// The count defaults to the active processor count; the `OVERPAINT_THREADS` environment
/// variable overrides it, and `threadCount` can be set at run time.
public enum Parallel {
    /// Threads used by parallel loops and by BLAS (at least 1).
    public static var threadCount: Int {
        get { settings.threadCount }
        set { settings.threadCount = newValue }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, spread over `threadCount` threads in
    /// contiguous blocks. `body` must be safe to run concurrently for distinct `i`.
    public static func forEach(count: Int, _ body: (Int) -> Void) {
        forEachRange(count: count, minimumBlock: 1) { range in
            for index in range { body(index) }
        }
    }

    /// Splits `0..<count` into at most `threadCount` contiguous blocks of at least
    /// `minimumBlock` elements and runs `body` on each block concurrently. Small counts run
    /// on the calling thread, so elementwise ops pay no dispatch cost on tiny tensors.
    public static func forEachRange(count: Int, minimumBlock: Int = 16_384, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let blocks = Swift.min(threadCount, Swift.max(1, count / Swift.max(1, minimumBlock)))
        if blocks == 1 {
            body(0..<count)
            return
        }
        // The caller vouches that blocks touch disjoint memory; this is the one place that says so.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: blocks) { block in
            body(count * block / blocks ..< count * (block + 1) / blocks)
        }
    }

    /// Runs `body` with BLAS restricted to one thread, for code that calls BLAS from several
    /// threads at once. Callers may nest and overlap: BLAS goes back to `threadCount` threads
    /// only when the last of them returns.
    static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        settings.enterSingleThreadedBLAS()
        defer { settings.leaveSingleThreadedBLAS() }
        return try body()
    }

    /// Threads one BLAS call may use now: 1 inside `withSingleThreadedBLAS`, else `threadCount`.
    static var blasThreadCount: Int { settings.blasThreadCount }

    /// Makes sure OpenBLAS runs on `threadCount` threads; every BLAS call site goes through it.
    static func configureBLAS() {
        _ = settings
    }

    /// The thread count `OVERPAINT_THREADS` asks for in `environment`, if it is a positive integer.
    static func requestedThreadCount(in environment: [String: String]) -> Int? {
        guard let text = environment["OVERPAINT_THREADS"],
              let count = Int(text.trimmingCharacters(in: .whitespaces)), count > 0 else { return nil }
        return count
    }

    private static let settings = ThreadSettings(
        threadCount: requestedThreadCount(in: ProcessInfo.processInfo.environment)
            ?? ProcessInfo.processInfo.activeProcessorCount
    )
}

/// The thread count and the number of callers inside `withSingleThreadedBLAS`, behind one
/// lock, applied to OpenBLAS (whose thread count is process-wide) whenever either changes.
private final class ThreadSettings: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    private var singleThreadedCallers = 0

    init(threadCount: Int) {
        value = Swift.max(1, threadCount)
        openblas_set_num_threads(Int32(value))
    }

    var threadCount: Int {
        get { lock.withLock { value } }
        set {
            lock.withLock {
                value = Swift.max(1, newValue)
                applyToOpenBLAS()
            }
        }
    }

    var blasThreadCount: Int {
        lock.withLock { singleThreadedCallers > 0 ? 1 : value }
    }

    func enterSingleThreadedBLAS() {
        lock.withLock {
            singleThreadedCallers += 1
            if singleThreadedCallers == 1 { applyToOpenBLAS() }
        }
    }

    func leaveSingleThreadedBLAS() {
        lock.withLock {
            singleThreadedCallers -= 1
            if singleThreadedCallers == 0 { applyToOpenBLAS() }
        }
    }

    /// Called with the lock held.
    private func applyToOpenBLAS() {
        openblas_set_num_threads(Int32(singleThreadedCallers > 0 ? 1 : value))
    }
}
