import ArgumentParser
import Batch
import Foundation
import Models
import Pipelines
import Tensors

/// `overpaint bench`: kernels at SD 1.5 shapes, then (given models) CLIP, one UNet
/// evaluation, VAE encode and decode, a whole img2img and Real-ESRGAN, each as a fraction of
/// the sgemm rate measured in the same run (absolute rates drift; ratios hold).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time kernels and whole models as fractions of the same-run sgemm rate, with peak RSS.",
        discussion: """
            Without --model and --upscaler only the kernels run. For full-size figures without a
            download, make random-weight models first: `overpaint models random --like sd15 --out M`
            and `--like realesrgan-x4plus`.
            """)

    @Option(help: "Timed repetitions per stage after one warm-up; the median is reported.")
    var repetitions = 3

    @Option(help: "A Stable Diffusion (1.x, 2.x or SDXL) pipeline folder or single file: time its text encoders, UNet, VAE and a whole img2img.")
    var model: String?

    @Option(help: "A tiny autoencoder folder (AutoencoderTiny, e.g. `models random --like taesd`): the img2img-fast stage also runs with it.")
    var tinyVae: String?

    @Option(help: "A Real-ESRGAN model (.param or .safetensors): time it on one tile.")
    var upscaler: String?

    @Option(help: "Stable Diffusion stages to time, comma-separated: \(ModelBenchmarks.Stage.allCases.map(\.rawValue).joined(separator: ",")).")
    var stages = ModelBenchmarks.Stage.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Image side for the Stable Diffusion stages.")
    var size = 512

    @Option(help: "Input side for the super-resolution stage.")
    var upscalerSize = 256

    @Option(help: "Also run the super-resolution network once over a whole WIDTHxHEIGHT photo in tiles, as recipes/upscale.yaml does (2000x1500: peak RSS at a camera's size; about 35 TFLOP per megapixel for x4plus).")
    var upscalerImage: String?

    @Option(help: "Timed runs of the whole img2img (its parts are already warm).")
    var pipelineRuns = 1

    @Option(help: "After the stages, run this many small img2img images (64x64, 4 steps) and report resident memory after the first and the last.")
    var leakImages = 0

    @Flag(inversion: .prefixedNo, help: "Time the kernel table (the reference sgemm is always timed).")
    var kernels = true

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    @Option(help: Precision.help)
    var precision = Precision.f32

    func validate() throws {
        try precision.validate()
        guard repetitions >= 1, pipelineRuns >= 1, leakImages >= 0 else { throw ValidationError("repetitions and runs must be >= 1") }
        _ = try selectedStages()
        guard size >= 64, size % 64 == 0, upscalerSize >= 16 else {
            throw ValidationError("--size must be a multiple of 64 and --upscaler-size at least 16")
        }
        _ = try upscalerImageSize()
    }

    func run() throws {
        try precision.apply()
        let benchmarks = ModelBenchmarks(repetitions: repetitions)
        let kernelResults = kernels ? TensorBenchmarks.run(repetitions: repetitions).map(KernelRow.init) : [benchmarks.referenceSGEMM()]
        let sgemmRate = kernelResults[0].gflops
        var stages: [StageResult] = []
        var notes: [String] = []
        var figures: [String: Double] = [:]
        if let model {
            let (pipeline, loadSeconds) = try timed { try StableDiffusion(modelAt: URL(fileURLWithPath: model)) }
            notes.append(String(format: "model loaded in %.1f s, resident %@", loadSeconds,
                                megabytes(ProcessMemory.residentBytes)))
            figures["model_load_seconds"] = loadSeconds
            stages += try benchmarks.stableDiffusion(pipeline, side: size, stages: selectedStages(),
                                                     pipelineRuns: pipelineRuns, tinyVAE: tinyVae.map { URL(fileURLWithPath: $0) })
            notes += vaeShare(stages) + fewStepSpeedups(stages)
            if precision != .f32, try selectedStages().contains(.img2img) {
                let parity = try benchmarks.reducedPrecisionParity(pipeline, side: size)
                figures.merge(parity) { current, _ in current }
                notes += parity.sorted { $0.key < $1.key }.map { String(format: "%@: %.4g", $0.key, $0.value) }
            }
            if leakImages > 0 {
                let growth = try benchmarks.residentGrowth(pipeline, side: 64, count: leakImages)
                notes.append("resident after image 1: \(megabytes(growth.first)), after image \(leakImages): \(megabytes(growth.last))")
                figures["resident_bytes_after_first_image"] = growth.first.map(Double.init)
                figures["resident_bytes_after_last_image"] = growth.last.map(Double.init)
            }
        }
        if let upscaler {
            let network = try loadSuperResolutionNetwork(at: URL(fileURLWithPath: upscaler))
            let name = URL(fileURLWithPath: upscaler).deletingPathExtension().lastPathComponent
            stages.append(benchmarks.superResolution(network, name: name, side: upscalerSize))
            if let (width, height) = try upscalerImageSize() {
                stages.append(benchmarks.tiledSuperResolution(network, name: name, width: width, height: height))
            }
        }
        if json {
            try printJSON(kernels: kernelResults, stages: stages, sgemmRate: sgemmRate, figures: figures)
        } else {
            printTable(kernels: kernelResults, stages: stages, sgemmRate: sgemmRate, notes: notes)
        }
    }

    /// `--upscaler-image` as (width, height).
    private func upscalerImageSize() throws -> (Int, Int)? {
        guard let upscalerImage else { return nil }
        let sides = upscalerImage.lowercased().split(separator: "x").compactMap { Int($0) }
        guard sides.count == 2, sides.allSatisfy({ $0 >= 16 }) else {
            throw ValidationError("--upscaler-image: expected WIDTHxHEIGHT with sides of at least 16, got '\(upscalerImage)'")
        }
        return (sides[0], sides[1])
    }

    private func selectedStages() throws -> Set<ModelBenchmarks.Stage> {
        let names = stages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return try Set(names.map { name in
            guard let stage = ModelBenchmarks.Stage(rawValue: name) else {
                throw ValidationError("--stages: unknown stage '\(name)'")
            }
            return stage
        })
    }

    private var environmentLine: String {
        let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)"
        return "threads: \(Parallel.threadCount), GEMM: \(GEMMBackend.active), products: \(GEMMBackend.productsDescription), OPENBLAS_CORETYPE=\(coretype)"
    }

    private func printTable(kernels: [KernelRow], stages: [StageResult], sgemmRate: Double, notes: [String]) {
        print(environmentLine)
        print(String(format: "same-run sgemm rate: %.1f GFLOP/s (%@)", sgemmRate, kernels[0].name))
        print("")
        print("| kernel | seconds | GFLOP/s | fraction of sgemm |")
        print("| --- | --- | --- | --- |")
        for result in kernels {
            print(String(format: "| %@ | %.4f | %.1f | %.2f |", result.name, result.seconds, result.gflops,
                         result.fractionOfSGEMM))
        }
        guard !stages.isEmpty else { return }
        print("")
        print("| stage | seconds (median) | GFLOP | GFLOP/s | sgemm GFLOP/s just before | fraction of sgemm | peak RSS |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for stage in stages {
            print(String(format: "| %@ | %.2f | %.4g | %.1f | %.1f | %.2f | %@ |", stage.name, stage.seconds,
                         stage.flops / 1e9, stage.gflops, stage.sgemmGFLOPS, stage.fractionOfSGEMM,
                         megabytes(stage.peakResidentBytes)))
        }
        for note in notes { print(note) }
    }

    private func printJSON(kernels: [KernelRow], stages: [StageResult], sgemmRate: Double,
                           figures: [String: Double]) throws {
        let environment = ProcessInfo.processInfo.environment
        var document: [String: Any] = [
            "threads": Parallel.threadCount,
            "gemm_backend": GEMMBackend.active.rawValue,
            "openblas_coretype": environment["OPENBLAS_CORETYPE"] ?? NSNull(),
            "openblas_core": GEMMBackend.openBLASCoreName,
            "products": GEMMBackend.productsDescription,
            "sgemm_gflops": sgemmRate,
            "kernels": kernels.map { ["name": $0.name, "seconds": $0.seconds, "gflops": $0.gflops,
                                      "fraction_of_sgemm": $0.fractionOfSGEMM] as [String: Any] },
            "stages": stages.map { stage -> [String: Any] in
                ["name": stage.name, "seconds": stage.seconds, "gflop": stage.flops / 1e9, "gflops": stage.gflops,
                 "sgemm_gflops": stage.sgemmGFLOPS, "fraction_of_sgemm": stage.fractionOfSGEMM,
                 "peak_rss_bytes": stage.peakResidentBytes.map { $0 as Any } ?? NSNull()]
            },
        ]
        document.merge(figures) { current, _ in current }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// How much of the whole img2img the VAE takes (one encode and one decode per image).
    private func vaeShare(_ stages: [StageResult]) -> [String] {
        let vae = stages.filter { $0.name.hasPrefix("VAE") }.map(\.seconds).reduce(0, +)
        guard let whole = stages.first(where: { $0.name.contains("20 steps") }), whole.seconds > 0 else { return [] }
        return [String(format: "VAE encode + decode: %.0f%% of the whole img2img", 100 * vae / whole.seconds)]
    }

    /// How many times faster per image each few-step row is than the 20-step guided img2img.
    private func fewStepSpeedups(_ stages: [StageResult]) -> [String] {
        guard let guided = stages.first(where: { $0.name.contains("20 steps") }) else { return [] }
        return stages.filter { $0.name.contains("LCM steps") && $0.seconds > 0 }.map { fast in
            String(format: "%@: %.1fx faster than the 20-step img2img", fast.name, guided.seconds / fast.seconds)
        }
    }

    private func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
        let start = Date()
        let result = try body()
        return (result, Date().timeIntervalSince(start))
    }

    private func megabytes(_ bytes: Int?) -> String {
        bytes.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "n/a"
    }
}
