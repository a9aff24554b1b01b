import Synchronization

/// Counts the floating-point operations of every GEMM the engine runs (a multiply-add
/// counts 2), which is where convolutions, linear layers and attention spend their work, so
/// a benchmark can report a model's achieved rate without a hand-kept FLOP table.
///
/// A count belongs to the `measure` call that opened it: it reaches the worker threads that
/// `Parallel` spreads work over, and work started by unrelated threads meanwhile (another
/// test, another image) is not counted.
public enum FlopCounter {
    /// The count `measure` is filling here; nil when nothing is being measured.
    @TaskLocal static var current: Tally?

    /// One `measure` call's count, and the enclosing call's, which includes it.
    final class Tally: Sendable {
        let flops = Atomic<Int>(0)
        let enclosing: Tally?

        init(enclosing: Tally?) { self.enclosing = enclosing }
    }

    /// Adds `flops` to the counts open here; called by the one GEMM entry point.
    static func add(_ flops: Int) {
        var tally = current
        while let open = tally {
            open.flops.add(flops, ordering: .relaxed)
            tally = open.enclosing
        }
    }

    /// Runs `body` and returns its result with the GEMM FLOPs it ran.
    public static func measure<R>(_ body: () throws -> R) rethrows -> (result: R, flops: Double) {
        let tally = Tally(enclosing: current)
        let result = try $current.withValue(tally, operation: body)
        return (result, Double(tally.flops.load(ordering: .relaxed)))
    }
}
