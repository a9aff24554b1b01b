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
        let flops = FlopCounter.current
        DispatchQueue.concurrentPerform(iterations: blocks) { block in
            FlopCounter.$current.withValue(flops) {
                body(count * block / blocks ..< count * (block + 1) / blocks)
            }
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

    /// Runs one OpenBLAS call. OpenBLAS's thread count is process-wide and must not change under
    /// a running call, so a change that `withSingleThreadedBLAS` or `threadCount` asks for is
    /// applied only once no call is in flight, and a call that needs it waits for that.
    static func withOpenBLAS<R>(_ body: () throws -> R) rethrows -> R {
        settings.beginOpenBLASCall()
        defer { settings.endOpenBLASCall() }
        return try body()
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

/// The thread count, the callers inside `withSingleThreadedBLAS` and the OpenBLAS calls in
/// flight, behind one lock. OpenBLAS's thread count follows the first two, changed only between calls.
private final class ThreadSettings: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Int
    private var singleThreadedCallers = 0
    private var openBLASCallsInFlight = 0
    private var appliedToOpenBLAS: Int

    init(threadCount: Int) {
        value = Swift.max(1, threadCount)
        appliedToOpenBLAS = value
        openblas_set_num_threads(Int32(value))
    }

    var threadCount: Int {
        get { condition.withLock { value } }
        set { condition.withLock { value = Swift.max(1, newValue) } }
    }

    var blasThreadCount: Int {
        condition.withLock { wantedBLASThreads }
    }

    func enterSingleThreadedBLAS() {
        condition.withLock { singleThreadedCallers += 1 }
    }

    func leaveSingleThreadedBLAS() {
        condition.withLock { singleThreadedCallers -= 1 }
    }

    func beginOpenBLASCall() {
        condition.lock()
        defer { condition.unlock() }
        while appliedToOpenBLAS != wantedBLASThreads && openBLASCallsInFlight > 0 { condition.wait() }
        if appliedToOpenBLAS != wantedBLASThreads {
            appliedToOpenBLAS = wantedBLASThreads
            openblas_set_num_threads(Int32(appliedToOpenBLAS))
        }
        openBLASCallsInFlight += 1
    }

    func endOpenBLASCall() {
        condition.withLock {
            openBLASCallsInFlight -= 1
            if openBLASCallsInFlight == 0 { condition.broadcast() }
        }
    }

    /// Read with the lock held.
    private var wantedBLASThreads: Int { singleThreadedCallers > 0 ? 1 : value }
}
