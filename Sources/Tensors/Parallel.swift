import Dispatch
import Foundation

/// Data-parallel loops over `DispatchQueue.concurrentPerform`, and the thread count they use.
///
/// The count defaults to the active processor count; the `OVERPAINT_THREADS` environment
/// variable overrides it, and `threadCount` can be set at run time.
public enum Parallel {
    /// Threads used by parallel loops and by each matrix product (at least 1).
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
    /// Inside a block, `blasThreadCount` is 1: the loop already holds every thread.
    public static func forEachRange(count: Int, minimumBlock: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let blocks = Swift.min(threadCount, Swift.max(1, count / Swift.max(1, minimumBlock)))
        forEachRange(count: count, blocks: blocks, body)
    }

    /// Splits `0..<count` into exactly `blocks` contiguous ranges (fewer when `count` is
    /// smaller) and runs `body` on each concurrently.
    static func forEachRange(count: Int, blocks: Int, _ body: (Range<Int>) -> Void) {
        let blocks = Swift.min(count, blocks)
        guard blocks > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        // The caller vouches that blocks touch disjoint memory; this is the one place that says so.
        nonisolated(unsafe) let body = body
        let flops = FlopCounter.current
        DispatchQueue.concurrentPerform(iterations: blocks) { block in
            FlopCounter.$current.withValue(flops) {
                $insideBlock.withValue(true) {
                    body(count * block / blocks ..< count * (block + 1) / blocks)
                }
            }
        }
    }

    /// Threads one matrix product may use here: 1 inside a `forEachRange` block, else `threadCount`.
    static var blasThreadCount: Int { insideBlock ? 1 : threadCount }

    /// The thread count `OVERPAINT_THREADS` asks for in `environment`, if it is a positive integer.
    static func requestedThreadCount(in environment: [String: String]) -> Int? {
        guard let text = environment["OVERPAINT_THREADS"],
              let count = Int(text.trimmingCharacters(in: .whitespaces)), count > 0 else { return nil }
        return count
    }

    @TaskLocal private static var insideBlock = false

    private static let settings = ThreadSettings(
        threadCount: requestedThreadCount(in: ProcessInfo.processInfo.environment)
            ?? ProcessInfo.processInfo.activeProcessorCount
    )
}

private final class ThreadSettings: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: Int

    init(threadCount: Int) { value = Swift.max(1, threadCount) }

    var threadCount: Int {
        get { lock.withLock { value } }
        set { lock.withLock { value = Swift.max(1, newValue) } }
    }
}
