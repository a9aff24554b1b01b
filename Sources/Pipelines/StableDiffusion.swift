import Adapters
import Foundation
import Imaging
import Models
import Prompts
import Schedulers
import Tensors
import Weights

/// A Stable Diffusion (1.x / 2.x / SDXL) pipeline folder, loaded once and reused for every image
/// of a batch: tokenizer, text encoder, UNet, VAE and scheduler configuration, and for SDXL the
/// second tokenizer and text encoder (`sdxl`), which make the UNet's conditioning.
///
/// The pipelines (`imageToImage`, `inpaint`) follow diffusers 0.42.1's
/// StableDiffusionImg2ImgPipeline and StableDiffusionInpaintPipeline call for call,
/// including the order in which they draw from the seeded generator, so a seed gives the
/// image diffusers gives on the CPU.
///
/// A UNet with a guidance embedding (`time_cond_proj_dim`, as LCM-distilled SD 1.x / 2.x UNets
/// such as LCM_Dreamshaper_v7 have) gets the guidance scale as diffusers gives it
/// (`embeddingGuidance`).
///
/// Limitations: one image per call (batch 1); no safety checker or IP-Adapter; SDXL UNets with
/// a guidance embedding are refused.
public final class StableDiffusion: Sendable {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    /// A tiny autoencoder (TAESD, `vae: taesd`) that decodes, and unless told otherwise encodes,
    /// in `vae`'s place when set; `vae` still gives the latent shape and sizes.
    public let tinyVAE: AutoencoderTiny?
    /// Whether `tinyVAE` encodes too; else (`vae_encoder: full`) `vae` encodes.
    public let tinyVAEEncodes: Bool
    /// The model's `scheduler/scheduler_config.json`; schedulers are built from it per image.
    public let schedulerConfig: SchedulerConfig
    /// SDXL's second text encoder and conditioning settings; nil for SD 1.x / 2.x.
    public let sdxl: SDXLTextConditioning?
    private let promptCache = PromptCache<Tensor>()
    let sdxlPromptCache = PromptCache<SDXLPromptEmbeddings>()

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: UNet2DConditionModel,
                vae: AutoencoderKL, schedulerConfig: SchedulerConfig, sdxl: SDXLTextConditioning? = nil,
                tinyVAE: AutoencoderTiny? = nil, tinyVAEEncodes: Bool = true) {
        self.sdxl = sdxl
        self.tinyVAE = tinyVAE
        self.tinyVAEEncodes = tinyVAE != nil && tinyVAEEncodes
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.unet = unet
        self.vae = vae
        self.schedulerConfig = schedulerConfig
    }

    /// Loads every component of a diffusers pipeline folder (`model_index.json`), with `adapters`
    /// (LoRA, LyCORIS) fused into the UNet and text encoder weights (both of SDXL's) first.
    public convenience init(folder: DiffusersPipelineFolder, adapters: [WeightedAdapter] = []) throws {
        func component(_ name: String) throws -> URL {
            guard folder.components[name] != nil else {
                throw PipelinesError.missingComponent(path: folder.url.path, component: name)
            }
            return folder.url.appendingPathComponent(name)
        }
        if folder.components["text_encoder_2"] != nil && folder.components["text_encoder"] == nil {
            throw ModelsError.unsupportedConfig(
                path: folder.url.path,
                detail: Self.refinerAsBase)
        }
        let schedulerFile = try component("scheduler").appendingPathComponent("scheduler_config.json")
        let (unetFolder, textFolder) = (try component("unet"), try component("text_encoder"))
        let hasSecondEncoder = folder.components["text_encoder_2"] != nil
        let sources = try AdaptedSources(unet: WeightStore(url: unetFolder), textEncoder: WeightStore(url: textFolder),
                                         textEncoder2: hasSecondEncoder ? WeightStore(url: component("text_encoder_2")) : nil,
                                         adapters: adapters)
        let unet = try UNet2DConditionModel(config: .load(from: unetFolder.appendingPathComponent("config.json")),
                                            source: sources.unet)
        if unet.addEmbedding != nil && !hasSecondEncoder {
            throw ModelsError.unsupportedConfig(path: folder.url.path, detail: "SDXL needs text_encoder and text_encoder_2")
        }
        self.init(tokenizer: try CLIPTokenizer(folder: component("tokenizer")),
                  textEncoder: try CLIPTextModel(config: .load(from: textFolder.appendingPathComponent("config.json")),
                                                 source: sources.textEncoder),
                  unet: unet,
                  vae: try AutoencoderKL(folder: component("vae")),
                  schedulerConfig: try SchedulerConfig.load(contentsOf: schedulerFile),
                  sdxl: hasSecondEncoder ? try SDXLTextConditioning(folder: folder, textEncoder2: sources.textEncoder2) : nil)
    }

    /// Loads the pipeline folder at `url`.
    public convenience init(folder url: URL, adapters: [WeightedAdapter] = []) throws {
        try self.init(folder: DiffusersPipelineFolder(url: url), adapters: adapters)
    }

    /// Loads the model at `url`: a single-file LDM checkpoint when it is a file
    /// (`init(singleFile:)`), a diffusers pipeline folder otherwise (RECIPES.md's `model`), with
    /// `adapters` fused in; SD3 and Flux models are refused naming their family (`UnsupportedFamily`).
    public convenience init(modelAt url: URL, adapters: [WeightedAdapter] = []) throws {
        try UnsupportedFamily.refuse(url)
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        if exists && !isFolder.boolValue {
            try self.init(singleFile: url, adapters: adapters)
        } else {
            try self.init(folder: url, adapters: adapters)
        }
    }

    /// Loads a single-file `.safetensors` checkpoint in the original LDM layout (UNet, VAE and
    /// text encoder in one file), as diffusers' `from_single_file`: with `configFolder` (a
    /// diffusers pipeline folder) the configs, tokenizer and scheduler come from there, as
    /// `from_single_file(path, config=folder)`; without, they are inferred from the tensor shapes
    /// and the family (`StableDiffusionArchitecture.inferred`) and the bundled tokenizer is used.
    /// `adapters` are fused into the UNet and text encoder weights (both of SDXL's) first.
    public convenience init(singleFile url: URL, configFolder: URL? = nil, adapters: [WeightedAdapter] = []) throws {
        let checkpoint = try SingleFileCheckpoint(file: SafeTensorsFile(url: url))
        if checkpoint.textEncoderLayout == .sdxlRefiner {
            throw ModelsError.unsupportedConfig(
                path: url.path, detail: Self.refinerAsBase)
        }
        let sources = try AdaptedSources(unet: checkpoint.unet(), textEncoder: checkpoint.textEncoder(),
                                         textEncoder2: checkpoint.textEncoderLayout == .sdxl ? checkpoint.textEncoder2() : nil,
                                         adapters: adapters)
        let unetSource = sources.unet, vaeSource = try checkpoint.vae(), textSource = sources.textEncoder
        guard let configFolder else {
            let architecture = try StableDiffusionArchitecture.inferred(from: checkpoint)
            let schedulerConfig: SchedulerConfig
            do {
                schedulerConfig = try JSONDecoder().decode(SchedulerConfig.self, from: Data(architecture.schedulerConfigJSON.utf8))
            } catch {
                throw PipelinesError.missingComponent(path: url.path, component: "scheduler")
            }
            let sdxl = try architecture.textEncoder2.map { config in
                SDXLTextConditioning(tokenizer2: try CLIPTokenizer.bundled(padToken: SDXLTextConditioning.secondPadToken),
                                     textEncoder2: try CLIPTextModelWithProjection(
                                         config: config, source: sources.textEncoder2 ?? checkpoint.textEncoder2()))
            }
            self.init(tokenizer: try CLIPTokenizer.bundled(padToken: architecture.padToken),
                      textEncoder: try CLIPTextModel(config: architecture.textEncoder, source: textSource),
                      unet: try UNet2DConditionModel(config: architecture.unet, source: unetSource),
                      vae: try AutoencoderKL(config: architecture.vae, source: vaeSource),
                      schedulerConfig: schedulerConfig, sdxl: sdxl)
            return
        }
        let folder = try DiffusersPipelineFolder(url: configFolder)
        func config(_ component: String) throws -> URL {
            try folder.folder(of: component).appendingPathComponent(component == "scheduler" ? "scheduler_config.json" : "config.json")
        }
        let sdxl = checkpoint.textEncoderLayout == .sdxl
            ? try SDXLTextConditioning(folder: folder, textEncoder2: sources.textEncoder2) : nil
        self.init(tokenizer: try CLIPTokenizer(folder: folder.folder(of: "tokenizer")),
                  textEncoder: try CLIPTextModel(config: CLIPTextConfig.load(from: config("text_encoder")), source: textSource),
                  unet: try UNet2DConditionModel(config: UNet2DConditionConfig.load(from: config("unet")), source: unetSource),
                  vae: try AutoencoderKL(config: AutoencoderKLConfig.load(from: config("vae")), source: vaeSource),
                  schedulerConfig: try SchedulerConfig.load(contentsOf: config("scheduler")), sdxl: sdxl)
    }

    /// Why a refiner (no first text encoder, as a folder or a single file) does not load as a model.
    static let refinerAsBase = "an SDXL refiner (OpenCLIP bigG alone) finishes an SDXL base's img2img or inpaint: "
        + "give it as the recipe's refiner, the base as model"

    /// diffusers' `vae_scale_factor`: pixels per latent along each side.
    public var vaeScaleFactor: Int { vae.downscaleFactor }

    /// The last hidden state of the text encoder for one prompt in A1111's syntax (weighted
    /// and, beyond 75 tokens, in A1111's chunks: `PromptChunker`), computed once per distinct
    /// prompt; throws for syntax it does not apply (`WeightedPrompt`).
    // -> [1, 77 * chunks, hidden]
    public func textEmbeddings(_ prompt: String, clipSkip: Int? = nil) throws -> Tensor {
        let weighted = try WeightedPrompt(prompt)
        return promptCache.embeddings(for: prompt, clipSkip: clipSkip) { promptEmbeddings(weighted, clipSkip: clipSkip) }
    }

    /// `encode_prompt` as the pipelines use it: with guidance, the negative prompt's
    /// embeddings then the prompt's (`torch.cat([negative, positive])`); without, the prompt's.
    /// Long prompts are chunked (`promptEmbeddings`), the shorter side extended to as many chunks.
    // -> [2, 77 * chunks, hidden] with guidance, else [1, 77 * chunks, hidden]
    public func encoderHiddenStates(_ options: GenerationOptions) throws -> Tensor {
        if sdxl != nil { throw PipelinesError.unsupportedForSDXL(pipeline: "this pipeline") }
        let layers = textEncoder.config.numHiddenLayers
        if let clipSkip = options.clipSkip, !(0...layers).contains(clipSkip) {
            throw PipelinesError.invalidClipSkip(clipSkip: clipSkip, layers: layers)
        }
        try WeightedPrompt.checkPositive(options.prompt)
        let positive = try textEmbeddings(options.prompt, clipSkip: options.clipSkip)
        guard options.usesGuidance else { return positive }
        let (negative, paddedPositive) = try equalChunkCounts(
            textEmbeddings(options.negativePrompt, clipSkip: options.clipSkip), positive, clipSkip: options.clipSkip)
        return Tensor.concatenate([negative, paddedPositive], axis: 0)
    }

    /// What the UNet is conditioned on for an image worked on at `width` x `height`: the text
    /// states, and for SDXL the pooled embeddings and time ids (`sdxlConditioning`).
    func conditioning(_ options: GenerationOptions, width: Int, height: Int) throws -> UNetConditioning {
        if let sdxl { return try sdxlConditioning(sdxl, options: options, width: width, height: height) }
        return UNetConditioning(encoderHiddenStates: try encoderHiddenStates(options))
    }

    /// How `options`' guidance reaches the UNet. diffusers' img2img and inpaint pipelines run a
    /// UNet with a guidance embedding without classifier-free guidance (their
    /// `do_classifier_free_guidance` is false for it) and give it the scale as `timestep_cond`,
    /// `get_guidance_scale_embedding(guidance_scale - 1)` for the one image: then `options` come
    /// back at guidance 1 (one UNet call per step, no negative prompt) with that embedding.
    /// Their ControlNet counterparts compute no embedding and guide as for any UNet, so with
    /// `controls`, as for other UNets, `options` come back unchanged and without one.
    func embeddingGuidance(_ options: GenerationOptions,
                           controls: [ControlInput]) -> (options: GenerationOptions, embedding: Tensor?) {
        guard let channels = unet.config.timeCondProjDim, controls.isEmpty else { return (options, nil) }
        var unguided = options
        unguided.guidanceScale = 1
        return (unguided, guidanceScaleEmbedding([options.guidanceScale - 1], channels: channels))
    }

    /// `conditioning` for an image worked on at `width` x `height`, with `options`' guidance as
    /// it reaches the UNet (`embeddingGuidance`): the options the pipeline then runs with, and
    /// the conditioning carrying the guidance embedding where the UNet takes one.
    func guidedConditioning(_ options: GenerationOptions, controls: [ControlInput], width: Int,
                            height: Int) throws -> (options: GenerationOptions, conditioning: UNetConditioning) {
        let (options, embedding) = embeddingGuidance(options, controls: controls)
        var conditioning = try self.conditioning(options, width: width, height: height)
        conditioning.guidanceEmbedding = embedding
        return (options, conditioning)
    }

    /// The scheduler `options` ask for, with its timesteps set for `options.steps`.
    func makeScheduler(_ options: GenerationOptions) throws -> any Scheduler {
        try Self.makeScheduler(options, config: schedulerConfig)
    }

    /// The scheduler `options` ask for, built from a model's `config`, with its timesteps set.
    static func makeScheduler(_ options: GenerationOptions, config: SchedulerConfig) throws -> any Scheduler {
        var scheduler = try options.scheduler.map {
            try SchedulerFactory.make($0, config: config, options: options.schedulerOptions)
        } ?? SchedulerFactory.make(config: config, options: options.schedulerOptions)
        try scheduler.setTimesteps(options.steps)
        return scheduler
    }

    /// The timesteps `strength` keeps (`get_timesteps`). Like the inpaint pipeline, refuses a
    /// strength that keeps no inference step (`DenoisingStrength`, the rule recipes are
    /// validated by); diffusers' img2img would still run PNDM's extra final timestep there.
    func strengthTimesteps(_ scheduler: inout any Scheduler, options: GenerationOptions) throws -> [Double] {
        guard options.strength <= 1, DenoisingStrength.stepsRun(options.strength, of: options.steps) >= 1 else {
            throw PipelinesError.invalidStrength(strength: options.strength, steps: options.steps)
        }
        return scheduler.timestepsForStrength(options.strength, steps: options.steps)
    }

    /// The tiny autoencoder when it encodes.
    private var tinyEncoder: AutoencoderTiny? { tinyVAEEncodes ? tinyVAE : nil }

    /// diffusers' `retrieve_latents(vae.encode(x), generator) * scaling_factor`: a sample of the
    /// posterior, or with a tiny autoencoder its latents, drawing nothing from the generator.
    // image: [1, 3, H, W] in [-1, 1] -> [1, latent_channels, H / f, W / f]
    func encodeSample(_ image: Tensor, generator: inout TorchGenerator) -> Tensor {
        if let tinyEncoder { return tinyEncoder.config.scalingFactor * tinyEncoder.encode(image) }
        Self.releaseWeightPages(before: image.shape[2] * image.shape[3])
        let vae = self.vae(forHeight: image.shape[2], width: image.shape[3])
        return vae.config.scalingFactor * vae.encode(image).sample(generator: &generator)
    }

    /// `vae.encode(x).latent_dist.mean * scaling_factor` (a tiny autoencoder's latents).
    // image: [1, 3, H, W] in [-1, 1] -> [1, latent_channels, H / f, W / f]
    func encodeMean(_ image: Tensor) -> Tensor {
        if let tinyEncoder { return tinyEncoder.config.scalingFactor * tinyEncoder.encode(image) }
        Self.releaseWeightPages(before: image.shape[2] * image.shape[3])
        let vae = self.vae(forHeight: image.shape[2], width: image.shape[3])
        return vae.config.scalingFactor * vae.encode(image).mean
    }

    /// `vae.decode(latents / scaling_factor)` and diffusers' postprocess to 8 bits.
    func decodeImage(_ latents: Tensor) -> Imaging.Image {
        if let tinyVAE {
            return ImageConversion.image(fromDecoded: tinyVAE.decode(latents / tinyVAE.config.scalingFactor))
        }
        Self.releaseWeightPages(before: latents.shape[2] * latents.shape[3] * vaeScaleFactor * vaeScaleFactor)
        let vae = self.vae(forHeight: latents.shape[2] * vaeScaleFactor, width: latents.shape[3] * vaeScaleFactor)
        return ImageConversion.image(fromDecoded: vae.decode(latents / vae.config.scalingFactor))
    }

    /// Before a full VAE run over `pixels` of a megapixel or more, whose activations reach
    /// gigabytes (4 GB decoding 1024x1024), the weights' file pages leave the process
    /// (`SafeTensorsFile.releaseResidentPages`): the UNet's are not needed until the next step,
    /// which faults them back in from the page cache. Smaller images keep them (re-faulting SD
    /// 1.5's 1.7 GB would cost more than it saves).
    static func releaseWeightPages(before pixels: Int) {
        if pixels >= vaeTilingPixelThreshold { SafeTensorsFile.releaseResidentPages() }
    }

    /// This pipeline with the given components in place of its own; the rest are shared.
    /// `autoencoders` replaces both: the VAE, and the tiny autoencoder that works in its place
    /// (nil for none) with whether it encodes too.
    func replacing(tokenizer: CLIPTokenizer? = nil, textEncoder: CLIPTextModel? = nil, sdxl: SDXLTextConditioning? = nil,
                   autoencoders: (vae: AutoencoderKL, tiny: AutoencoderTiny?, tinyEncodes: Bool)? = nil) -> StableDiffusion {
        StableDiffusion(tokenizer: tokenizer ?? self.tokenizer, textEncoder: textEncoder ?? self.textEncoder, unet: unet,
                        vae: autoencoders?.vae ?? vae, schedulerConfig: schedulerConfig, sdxl: sdxl ?? self.sdxl,
                        tinyVAE: autoencoders.map(\.tiny) ?? tinyVAE,
                        tinyVAEEncodes: autoencoders.map(\.tinyEncodes) ?? tinyVAEEncodes)
    }

    /// Images of more pixels than this go through the VAE in diffusers' blended tiles
    /// (`enable_tiling()`): whole, the VAE holds several full-size 128-channel activations at
    /// once, 2 GB each at 2048x2048. Up to 1024x1024 images run whole, exactly as diffusers'.
    public static let vaeTilingPixelThreshold = 1024 * 1024

    /// The VAE to run on an image of `height` x `width` pixels: this pipeline's, tiled past
    /// `threshold` pixels unless it has tiling settings of its own.
    func vae(forHeight height: Int, width: Int, threshold: Int = vaeTilingPixelThreshold) -> AutoencoderKL {
        guard vae.tiling == nil, height * width > threshold else { return vae }
        var tiled = vae
        tiled.enableTiling()
        return tiled
    }
}
