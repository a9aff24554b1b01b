import ArgumentParser
import Foundation
import Tensors

/// `overpaint bench`: kernel speed on Stable-Diffusion-shaped work, each figure as a
/// fraction of the sgemm rate measured in the same run (absolute rates drift; ratios hold).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time sgemm, conv2d and attention at SD 1.5 shapes (512x512) as fractions of the same-run sgemm rate.")

    @Option(help: "Timed repetitions per kernel (median is reported), after one warm-up.")
    var repetitions = 3

    @Flag(help: "Print one JSON object per result.")
    var json = false

    func run() throws {
        let results = TensorBenchmarks.run(repetitions: repetitions)
        let environment = ProcessInfo.processInfo.environment
        let header = "threads: \(Parallel.threadCount), OPENBLAS_CORETYPE=\(environment["OPENBLAS_CORETYPE"] ?? "(unset)")"
        if json {
            for result in results {
                let object: [String: Any] = ["name": result.name, "seconds": result.seconds, "gflops": result.gflops,
                                             "fraction_of_sgemm": result.fractionOfSGEMM, "threads": Parallel.threadCount]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print(header)
        print("| kernel | seconds | GFLOP/s | fraction of sgemm |")
        print("| --- | --- | --- | --- |")
        for result in results {
            print(String(format: "| %@ | %.4f | %.1f | %.2f |", result.name, result.seconds, result.gflops, result.fractionOfSGEMM))
        }
    }
}
