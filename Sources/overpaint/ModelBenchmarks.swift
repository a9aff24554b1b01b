import Batch
import Dispatch
import Foundation
import Imaging
import Models
import Pipelines
import Tensors

/// One row of the kernel table.
struct KernelRow {
    let name: String
    let seconds: Double
    let gflops: Double
    let fractionOfSGEMM: Double

    init(name: String, seconds: Double, gflops: Double, fractionOfSGEMM: Double) {
        self.name = name
        self.seconds = seconds
        self.gflops = gflops
        self.fractionOfSGEMM = fractionOfSGEMM
    }

    init(_ result: BenchResult) {
        self.init(name: result.name, seconds: result.seconds, gflops: result.gflops,
                  fractionOfSGEMM: result.fractionOfSGEMM)
    }
}

/// One timed model stage: median wall time, the GEMM work it did, and its own peak RSS.
struct StageResult {
    let name: String
    let seconds: Double
    let flops: Double
    /// Peak resident bytes from the start of this stage (the process's peak where the
    /// kernel cannot restart the count).
    let peakResidentBytes: Int?
    /// The reference sgemm rate timed just before this stage: on a shared machine the rate
    /// drifts over a long run, and the stage is compared with the rate of its own moment.
    let sgemmGFLOPS: Double

    var gflops: Double { flops / seconds / 1e9 }
    var fractionOfSGEMM: Double { gflops / sgemmGFLOPS }
}

/// Times whole models at 512x512 the way a user runs them, each figure comparable to the
/// same run's sgemm rate.
struct ModelBenchmarks {
    /// Timed runs per stage after one warm-up; the median is reported.
    let repetitions: Int

    /// Warm-up, then `repetitions` timed runs of `body`; FLOPs from the counter over one run.
    func stage(_ name: String, warmUp: Bool = true, runs: Int? = nil, _ body: () throws -> Void) rethrows -> StageResult {
        let sgemmRate = referenceSGEMM().gflops
        ProcessMemory.resetPeak()
        if warmUp { try body() }
        var times: [Double] = []
        var flops = 0.0
        for _ in 0..<max(1, runs ?? repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            flops = try FlopCounter.measure(body).flops
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return StageResult(name: name, seconds: median(times), flops: flops,
                           peakResidentBytes: ProcessMemory.peakResidentBytes, sgemmGFLOPS: sgemmRate)
    }

    /// The reference every fraction is measured against: sgemm M=4096 N=320 K=2880 (the
    /// UNet's 320-channel 3x3 convolution as a GEMM) on the f32 backend chosen for this CPU, as
    /// the kernel table's first row. Its median over five runs after a warm-up.
    func referenceSGEMM() -> KernelRow {
        GEMMBackend.withBackend(GEMMBackend.automaticFloat32) { timeReferenceSGEMM() }
    }

    private func timeReferenceSGEMM() -> KernelRow {
        let a = TensorBenchmarks.filled([4096, 2880])
        let b = TensorBenchmarks.filled([2880, 320])
        _ = matmul(a, b)
        let times = (0..<5).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            _ = matmul(a, b)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let seconds = median(times)
        return KernelRow(name: "sgemm reference M=4096 N=320 K=2880", seconds: seconds,
                         gflops: 2.0 * 4096 * 320 * 2880 / seconds / 1e9, fractionOfSGEMM: 1)
    }

    /// The Stable Diffusion stages `--stages` can pick.
    enum Stage: String, CaseIterable {
        case clip, unet
        case vaeEncode = "vae-encode"
        case vaeDecode = "vae-decode"
        case img2img
        case fastImg2img = "img2img-fast"
    }

    /// CLIP, one UNet evaluation with guidance (batch 2), VAE encode and decode, then a whole
    /// img2img (20 steps at strength 0.75, timed `pipelineRuns` times: its parts are warm) and
    /// the few-step one (4 LCM steps at strength 1 and guidance 1, one UNet evaluation at batch
    /// 1 a step), with the full VAE and, given `tinyVAE`, with that tiny autoencoder; those of
    /// them in `stages`.
    func stableDiffusion(_ pipeline: StableDiffusion, side: Int, stages: Set<Stage>,
                         pipelineRuns: Int, tinyVAE: URL? = nil) throws -> [StageResult] {
        let latentSide = side / pipeline.vaeScaleFactor
        let latentChannels = pipeline.vae.config.latentChannels
        let prompt = "a photograph of an astronaut riding a horse"
        let pixels = TensorBenchmarks.filled([1, 3, side, side])
        let oneLatent = TensorBenchmarks.filled([1, latentChannels, latentSide, latentSide])
        let unetInput = TensorBenchmarks.filled([1, pipeline.unet.config.inChannels, latentSide, latentSide])
        var results: [StageResult] = []
        if stages.contains(.clip) {
            let name = pipeline.sdxl == nil ? "CLIP text encoder, 1 prompt" : "text encoders (CLIP-L, OpenCLIP bigG), 1 prompt"
            results.append(stage(name) { pipeline.encodePromptUncached(prompt) })
        }
        if stages.contains(.unet) {
            let options = GenerationOptions(prompt: prompt, negativePrompt: "", negativePromptGiven: true)
            results.append(try stage("UNet, batch 2 (guidance), \(latentSide)x\(latentSide) latents") {
                _ = try pipeline.evaluateUNet(unetInput, timestep: 999, options: options)
            })
        }
        if stages.contains(.vaeEncode) {
            results.append(stage("VAE encode \(side)x\(side)") { _ = pipeline.vae.encode(pixels).mean })
        }
        if stages.contains(.vaeDecode) {
            results.append(stage("VAE decode \(side)x\(side)") { _ = pipeline.vae.decode(oneLatent) })
        }
        if stages.contains(.img2img) {
            let photo = Imaging.Image(width: side, height: side, channels: 3,
                                      samples: (0..<side * side * 3).map { Float(($0 * 7919) % 256) / 255 })
            // SDXL at its issue's strength (0.6), SD at A1111's default
            let strength = pipeline.sdxl == nil ? 0.75 : 0.6
            let options = GenerationOptions(prompt: prompt, steps: 20, strength: strength, seed: 0)
            results.append(try stage("img2img \(side)x\(side), 20 steps, strength \(strength)", warmUp: false,
                                     runs: pipelineRuns) {
                _ = try pipeline.imageToImage(photo, options: options)
            })
        }
        if stages.contains(.fastImg2img) {
            results += try fewStepImageToImage(pipeline, side: side, prompt: prompt, pipelineRuns: pipelineRuns, tinyVAE: tinyVAE)
        }
        return results
    }

    /// The few-step rows: LCM, 4 steps, strength 1, guidance 1, with the model's VAE and, when
    /// `tinyVAE` is given, with it decoding (`vae_encoder: full`) and with it encoding too (`vae: taesd`).
    private func fewStepImageToImage(_ pipeline: StableDiffusion, side: Int, prompt: String, pipelineRuns: Int,
                                     tinyVAE: URL?) throws -> [StageResult] {
        let photo = Imaging.Image(width: side, height: side, channels: 3,
                                  samples: (0..<side * side * 3).map { Float(($0 * 7919) % 256) / 255 })
        var options = GenerationOptions(prompt: prompt, steps: 4, guidanceScale: 1, strength: 1, seed: 0)
        options.scheduler = .lcm
        let name = "img2img \(side)x\(side), 4 LCM steps, strength 1, guidance 1"
        var variants = [(name + ", full VAE", pipeline)]
        if let tinyVAE {
            variants.append((name + ", tiny decoder", try pipeline.replacingVAE(with: tinyVAE, tinyEncodes: false)))
            variants.append((name + ", tiny encoder and decoder", try pipeline.replacingVAE(with: tinyVAE)))
        }
        return try variants.map { name, variant in
            try stage(name, runs: pipelineRuns) { _ = try variant.imageToImage(photo, options: options) }
        }
    }

    /// How far bf16 or f16 products move the results from f32 (the CPU's f32 backend) on the same inputs: one
    /// UNet evaluation (relative RMS and largest absolute difference), one VAE decode and a
    /// 20-step img2img at 0.75 (PSNR of the 8-bit images), the parity measures.
    func reducedPrecisionParity(_ pipeline: StableDiffusion, side: Int) throws -> [String: Double] {
        let latentSide = side / pipeline.vaeScaleFactor
        let unetInput = TensorBenchmarks.filled([1, pipeline.unet.config.inChannels, latentSide, latentSide])
        let oneLatent = TensorBenchmarks.filled([1, pipeline.vae.config.latentChannels, latentSide, latentSide])
        let photo = Imaging.Image(width: side, height: side, channels: 3,
                                  samples: (0..<side * side * 3).map { Float(($0 * 7919) % 256) / 255 })
        let options = GenerationOptions(prompt: "a photograph of an astronaut riding a horse", steps: 20,
                                        strength: 0.75, seed: 0)
        func outputs() throws -> (unet: Tensor, decoded: Tensor, edited: Imaging.Image) {
            let unet = try pipeline.evaluateUNet(unetInput, timestep: 999,
                                                 options: GenerationOptions(prompt: options.prompt, negativePromptGiven: true))
            let decoded = pipeline.vae.decode(oneLatent)
            return (unet, decoded, try pipeline.imageToImage(photo, options: options))
        }
        let reduced = try outputs()
        let full = try GEMMBackend.withBackend(GEMMBackend.automaticFloat32) { try outputs() }
        let difference = reduced.unet - full.unet
        let name = GEMMBackend.active.precisionName
        return [
            "\(name)_unet_relative_rms_error": rootMeanSquare(difference) / rootMeanSquare(full.unet),
            "\(name)_unet_max_abs_error": Double(difference.scalars.map(abs).max() ?? 0),
            "\(name)_vae_decode_psnr_db": ImageFidelity.psnr(reduced.decoded.scalars.map { ($0 + 1) / 2 },
                                                             full.decoded.scalars.map { ($0 + 1) / 2 }, eightBit: true),
            "\(name)_img2img_20_steps_psnr_db": ImageFidelity.psnr(reduced.edited, full.edited, eightBit: true),
        ]
    }

    /// Resident memory after the first and the last of `count` img2img runs on distinct
    /// photos and prompts: a leak shows as growth that bounded caches (64 prompts) cannot explain.
    func residentGrowth(_ pipeline: StableDiffusion, side: Int, count: Int) throws -> (first: Int?, last: Int?) {
        var first: Int?
        for index in 0..<count {
            let photo = Imaging.Image(width: side, height: side, channels: 3,
                                      samples: (0..<side * side * 3).map { Float(($0 * 31 + index * 97) % 256) / 255 })
            let options = GenerationOptions(prompt: "photo number \(index)", steps: 4, strength: 0.5, seed: UInt64(index))
            _ = try pipeline.imageToImage(photo, options: options)
            if index == 0 { first = ProcessMemory.residentBytes }
        }
        return (first, ProcessMemory.residentBytes)
    }

    /// A super-resolution network on one `side` x `side` tile, untiled.
    func superResolution(_ network: any SuperResolutionNetwork, name: String, side: Int) -> StageResult {
        let input = TensorBenchmarks.filled([1, network.inputChannels, side, side], scale: 0.5) + 0.5
        return stage("\(name) \(side)x\(side)") { _ = network(input) }
    }

    /// A super-resolution network over a whole `width` x `height` photo as `recipes/upscale.yaml`
    /// runs it (256-pixel tiles overlapping by 16, then Lanczos to 2x): one run without a
    /// warm-up, as it takes minutes; its peak RSS is the figure that matters.
    func tiledSuperResolution(_ network: any SuperResolutionNetwork, name: String, width: Int, height: Int) -> StageResult {
        let photo = Imaging.Image(width: width, height: height, channels: 3,
                                  samples: (0..<width * height * 3).map { Float(($0 * 37) % 251) / 250 })
        let upscaler = RealESRGANUpscale(network: network)
        return stage("\(name) over \(width)x\(height) in 256-pixel tiles, to 2x", warmUp: false, runs: 1) {
            _ = upscaler.upscale(photo, scale: 2, tileSize: 256, tileOverlap: 16)
        }
    }

    private func rootMeanSquare(_ tensor: Tensor) -> Double {
        (tensor.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, tensor.count))).squareRoot()
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
