import Foundation
import Testing
@testable import Tensors

/// Times the UNet-shaped kernels; only with `OVERPAINT_BENCH=1`, and meaningful only in release:
/// `OVERPAINT_BENCH=1 swift test -c release --filter TensorsTests.BenchmarkTests`.
@Suite struct BenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["OVERPAINT_BENCH"] != nil))
    func kernelsReportFiniteRates() {
        let results = TensorBenchmarks.run()
        for result in results {
            print(String(format: "%-44@ %9.1f ms %7.1f GFLOP/s %5.2f of sgemm", result.name as NSString,
                         result.seconds * 1000, result.gflops, result.fractionOfSGEMM))
        }
        // The reference, 7 GEMM shapes on each backend, 3 convolutions, attention, 2 linears
        // with f32 and f16 weights.
        #expect(results.count == 1 + 7 * TensorBenchmarks.gemmBackends.count + 3 + 1 + 2 * 2)
        #expect(Set(results.map(\.backend)) == Set(TensorBenchmarks.gemmBackends))
        #expect(results[0].backend == .openBLAS)
        #expect(results.allSatisfy { $0.gflops.isFinite && $0.gflops > 0 })
    }
}
