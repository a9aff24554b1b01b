import Synchronization

/// Counts the floating-point operations of every GEMM the engine runs (a multiply-add
/// counts 2), which is where convolutions, linear layers and attention spend their work, so
/// a benchmark can report a model's achieved rate without a hand-kept FLOP table.
public enum FlopCounter {
    private static let total = Atomic<Int>(0)

    /// Adds `flops` to the running count; called by the one GEMM entry point.
    static func add(_ flops: Int) {
        total.add(flops, ordering: .relaxed)
    }

    /// Runs `body` and returns its result with the GEMM FLOPs counted while it ran (work
    /// that other threads start meanwhile is counted too, so measure one thing at a time).
    public static func measure<R>(_ body: () throws -> R) rethrows -> (result: R, flops: Double) {
        let before = total.load(ordering: .relaxed)
        let result = try body()
        return (result, Double(total.load(ordering: .relaxed) &- before))
    }
}
