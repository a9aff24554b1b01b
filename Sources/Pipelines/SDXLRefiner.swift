import Foundation
import Models
import Prompts
import Schedulers
import Tensors
import Weights

/// An SDXL refiner laid out as stabilityai/stable-diffusion-xl-refiner-1.0 is: tokenizer_2 and
/// text_encoder_2 (OpenCLIP bigG) alone, a UNet attending to bigG's states, time ids ending with
/// an aesthetic score. It finishes an SDXL base's latents as diffusers'
/// StableDiffusionXLImg2ImgPipeline does when called with `image=` the base's latents and
/// `denoising_start` (pipeline_stable_diffusion_xl_img2img.py, diffusers 0.42.1).
///
/// The refined latents are decoded by the base's VAE, as diffusers' documented hand-over shares
/// it (`vae=base.vae`); the refiner folder's own VAE, the same SDXL VAE, is not loaded.
public final class SDXLRefiner: Sendable {
    public let conditioning: SDXLTextConditioning
    public let unet: UNet2DConditionModel
    public let schedulerConfig: SchedulerConfig
    private let promptCache = PromptCache<SDXLPromptEmbeddings>()

    public init(conditioning: SDXLTextConditioning, unet: UNet2DConditionModel, schedulerConfig: SchedulerConfig) {
        self.conditioning = conditioning
        self.unet = unet
        self.schedulerConfig = schedulerConfig
    }

    /// Loads the refiner folder at `url`; a folder with a first text encoder (an SDXL base) is
    /// refused, since diffusers' refiner pipeline would condition it differently.
    public convenience init(folder url: URL) throws {
        let folder = try DiffusersPipelineFolder(url: url)
        for component in ["scheduler", "unet", "text_encoder_2", "tokenizer_2"] where folder.components[component] == nil {
            throw PipelinesError.missingComponent(path: url.path, component: component)
        }
        guard folder.components["text_encoder"] == nil else {
            throw ModelsError.unsupportedConfig(
                path: url.path, detail: "not an SDXL refiner: it has a text_encoder (a refiner has text_encoder_2 alone)")
        }
        let unetFolder = try folder.folder(of: "unet")
        self.init(conditioning: try SDXLTextConditioning(folder: folder),
                  unet: try UNet2DConditionModel(config: .load(from: unetFolder.appendingPathComponent("config.json")),
                                                 source: WeightStore(url: unetFolder)),
                  schedulerConfig: try SchedulerConfig.load(
                      contentsOf: folder.folder(of: "scheduler").appendingPathComponent("scheduler_config.json")))
    }

    /// Loads an SDXL refiner single file (A1111 / Civitai `sd_xl_refiner_1.0.safetensors`:
    /// bigG as `conditioner.embedders.0.model.`); with `configFolder` (a refiner diffusers folder)
    /// the configs and tokenizer come from there, without it from the shapes and the 1.0
    /// refiner's settings with the bundled tokenizer.
    public convenience init(singleFile url: URL, configFolder: URL? = nil) throws {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
        guard checkpoint.textEncoderLayout == .sdxlRefiner, checkpoint.hasUNet else {
            throw ModelsError.unsupportedConfig(
                path: url.path, detail: "not an SDXL refiner single file (a UNet and OpenCLIP bigG alone as conditioner.embedders.0.model.*)")
        }
        let (unetSource, textSource) = (try checkpoint.unet(), try checkpoint.textEncoder2())
        if let configFolder {
            let folder = try DiffusersPipelineFolder(url: configFolder)
            self.init(conditioning: try SDXLTextConditioning(folder: folder, textEncoder2: textSource),
                      unet: try UNet2DConditionModel(config: .load(from: folder.folder(of: "unet").appendingPathComponent("config.json")),
                                                     source: unetSource),
                      schedulerConfig: try SchedulerConfig.load(
                          contentsOf: folder.folder(of: "scheduler").appendingPathComponent("scheduler_config.json")))
            return
        }
        let architecture = try StableDiffusionArchitecture.inferredRefiner(from: checkpoint)
        let conditioning = SDXLTextConditioning(
            tokenizer2: try CLIPTokenizer.bundled(padToken: SDXLTextConditioning.secondPadToken),
            textEncoder2: try CLIPTextModelWithProjection(config: architecture.textEncoder2, source: textSource),
            forceZerosForEmptyPrompt: false, requiresAestheticsScore: true)
        self.init(conditioning: conditioning, unet: try UNet2DConditionModel(config: architecture.unet, source: unetSource),
                  schedulerConfig: try JSONDecoder().decode(SchedulerConfig.self, from: Data(architecture.schedulerConfigJSON.utf8)))
    }

    /// The refiner at `url`: a single file when it is a file, a diffusers folder otherwise.
    public convenience init(modelAt url: URL) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue {
            try self.init(singleFile: url)
        } else {
            try self.init(folder: url)
        }
    }

    /// A refiner's scheduler for `options` with the timesteps below the switch
    /// (`get_timesteps(denoising_start=)`): strength plays no part.
    func scheduler(_ options: GenerationOptions, switchAt: Double) throws -> (scheduler: any Scheduler, timesteps: [Double]) {
        var scheduler = try StableDiffusion.makeScheduler(options, config: schedulerConfig)
        let cutoff = Self.timestepCutoff(switchAt, trainTimesteps: scheduler.config.numTrainTimesteps ?? 1000)
        var count = scheduler.timesteps.filter { $0 < cutoff }.count
        // a second-order scheduler's pairs are not split
        if scheduler.order == 2 && count % 2 == 0 { count += 1 }
        let start = scheduler.timesteps.count - count
        scheduler.setBeginIndex(start)
        return (scheduler, Array(scheduler.timesteps[start...]))
    }

    /// diffusers' `discrete_timestep_cutoff`: `int(round(T - share * T))`, Python's round half to even.
    static func timestepCutoff(_ share: Double, trainTimesteps: Int) -> Double {
        let total = Double(trainTimesteps)
        return (total - share * total).rounded(.toNearestOrEven)
    }

    /// The base's timesteps at or above the switch (`denoising_end`).
    static func baseTimesteps(_ timesteps: [Double], switchAt: Double, trainTimesteps: Int) -> [Double] {
        let cutoff = timestepCutoff(switchAt, trainTimesteps: trainTimesteps)
        return Array(timesteps.prefix(timesteps.filter { $0 >= cutoff }.count))
    }

    /// What the refiner's UNet is conditioned on: bigG's states of `prompt` (the refiner's
    /// `encode_prompt` zips its one encoder with the first prompts, so `prompt_2` and
    /// `negative_prompt_2` play no part), and time ids ending with the aesthetic `scores`.
    func unetConditioning(_ options: GenerationOptions, width: Int, height: Int,
                          scores: (positive: Double, negative: Double)) throws -> UNetConditioning {
        var scored = conditioning
        (scored.aestheticScore, scored.negativeAestheticScore) = scores
        return try scored.unetConditioning(options, width: width, height: height,
                                           layers: conditioning.textEncoder2.config.numHiddenLayers, unet: unet) { prompt, _, clipSkip in
            try embeddings(prompt, clipSkip: clipSkip)
        }
    }

    /// One prompt through bigG, chunked and weighted as A1111 does, computed once per prompt and clip skip.
    private func embeddings(_ prompt: String, clipSkip: Int) throws -> SDXLPromptEmbeddings {
        let weighted = try WeightedPrompt(prompt)
        return promptCache.embeddings(for: prompt, clipSkip: clipSkip) {
            let tokenizer = conditioning.tokenizer2
            let encoded = PromptChunker(tokenizer: tokenizer).chunks(weighted, tokenizer: tokenizer).map {
                conditioning.secondEncoderEmbeddings($0, clipSkip: clipSkip)
            }
            return SDXLPromptEmbeddings(states: Tensor.concatenate(encoded.map(\.states), axis: 1), pooled: encoded[0].pooled)
        }
    }
}

/// An SDXL base's img2img or inpaint handing over to a refiner at `switchAt` (the recipe's
/// `refiner_switch`), which conditions on the aesthetic scores (diffusers' `aesthetic_score`,
/// `negative_aesthetic_score`).
public struct RefinerHandOver: Sendable {
    public let refiner: SDXLRefiner
    public let switchAt: Double
    public let aestheticScore: Double
    public let negativeAestheticScore: Double

    public init(refiner: SDXLRefiner, switchAt: Double, aestheticScore: Double = 6, negativeAestheticScore: Double = 2.5) {
        self.refiner = refiner
        self.switchAt = switchAt
        self.aestheticScore = aestheticScore
        self.negativeAestheticScore = negativeAestheticScore
    }

    /// The base's `timesteps` that run before the switch, on its `scheduler`'s training schedule.
    func baseTimesteps(_ timesteps: [Double], scheduler: any Scheduler) -> [Double] {
        SDXLRefiner.baseTimesteps(timesteps, switchAt: switchAt, trainTimesteps: scheduler.config.numTrainTimesteps ?? 1000)
    }

    /// The refiner's UNet conditioning for `options` at the working size, with these scores.
    func unetConditioning(_ options: GenerationOptions, width: Int, height: Int) throws -> UNetConditioning {
        try refiner.unetConditioning(options, width: width, height: height,
                                     scores: (aestheticScore, negativeAestheticScore))
    }
}

/// The refiner's half of a hand-over: its scheduler from the switch on, and its loop.
struct RefinerRun {
    let loop: DenoisingLoop
    var scheduler: any Scheduler
    let timesteps: [Double]

    init(_ handOver: RefinerHandOver, options: GenerationOptions, width: Int, height: Int) throws {
        (scheduler, timesteps) = try handOver.refiner.scheduler(options, switchAt: handOver.switchAt)
        loop = DenoisingLoop(unet: handOver.refiner.unet,
                             conditioning: try handOver.unetConditioning(options, width: width, height: height),
                             options: options)
    }

    /// img2img's half: the base's latents denoised on, with no new noise.
    mutating func refine(_ baseLatents: Tensor, generator: inout TorchGenerator, progress: StepCallback?) throws -> Tensor {
        try loop.run(baseLatents, timesteps: timesteps, scheduler: &scheduler, generator: &generator, progress: progress)
    }

    /// Inpainting's half: `prepare_latents` with the base's latents as `image` and no noise added
    /// (a fresh draw kept for the blending), then the 4-channel loop blending toward those latents.
    mutating func inpaint(_ baseLatents: Tensor, latentMask: Tensor, generator: inout TorchGenerator,
                          progress: StepCallback?) throws -> Tensor {
        let noise = generator.randn(baseLatents.shape)
        let timesteps = self.timesteps
        return try loop.run(baseLatents, timesteps: timesteps, scheduler: &scheduler, generator: &generator,
                            progress: progress) { index, latents, scheduler in
            try StableDiffusion.blendKnownRegion(latents, imageLatents: baseLatents, noise: noise, mask: latentMask,
                                                 nextTimestep: index + 1 < timesteps.count ? timesteps[index + 1] : nil,
                                                 scheduler: scheduler)
        }
    }
}
