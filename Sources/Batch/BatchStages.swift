import Dispatch
import Foundation

/// A value computed on a background queue and waited for once.
final class Eventually<Value>: @unchecked Sendable {
    // @unchecked: `value` is written once before `ready` is signalled and read only after.
    private let ready = DispatchSemaphore(value: 0)
    private var value: Value?

    init(on queue: DispatchQueue, _ compute: @escaping () -> Value) {
        nonisolated(unsafe) let compute = compute
        queue.async {
            self.value = compute()
            self.ready.signal()
        }
    }

    func wait() -> Value {
        ready.wait()
        return value!
    }
}

/// The writing stage: encodes, hashes and records results on its own serial queue, in the
/// order they were handed over, with at most one result waiting.
final class Finisher: @unchecked Sendable {
    // @unchecked: `summary` and `progress` are touched only on `queue`, and by `drain` after it.
    let progress: Progress
    private let runner: BatchRunner
    private let queue = DispatchQueue(label: "overpaint.writing")
    private let slot = DispatchSemaphore(value: 1)
    private var summary = RunSummary()

    init(runner: BatchRunner, progress: Progress) {
        self.runner = runner
        self.progress = progress
    }

    /// An output `--resume` keeps.
    func skip(_ job: Job) {
        enqueue {
            $0.summary.skipped += 1
            $0.progress.finished(job.input, outcome: "skipped", seconds: 0)
        }
    }

    /// Writes the result (when there is one) and records the outcome.
    func finish(_ job: Job, _ outcome: Result<EditResult, Error>, fingerprint: [String: String], started: Date) {
        enqueue { finisher in
            let entry = finisher.runner.entry(for: job, outcome: outcome, fingerprint: fingerprint, started: started)
            if entry.status == .ok { finisher.summary.succeeded += 1 } else { finisher.summary.failed += 1 }
            if let error = entry.error { finisher.progress.note("FAILED \(error)") }
            finisher.runner.record(entry)
            finisher.progress.finished(job.input, outcome: entry.status.rawValue, seconds: entry.seconds)
        }
    }

    /// Waits for everything handed over to be recorded.
    func drain() -> RunSummary {
        slot.wait()
        defer { slot.signal() }
        return queue.sync { summary }
    }

    /// Waits while an earlier result is still being written, so only one is ever held.
    private func enqueue(_ work: @escaping (Finisher) -> Void) {
        slot.wait()
        nonisolated(unsafe) let work = work
        queue.async {
            work(self)
            self.slot.signal()
        }
    }
}
