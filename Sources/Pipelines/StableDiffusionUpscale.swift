import Foundation
import Imaging
import Models
import Schedulers
import Tensors
import Weights

/// What one image is upscaled with; defaults are StableDiffusionUpscalePipeline's.
public struct UpscaleOptions: Sendable, Equatable {
    /// Prompt, negative prompt, steps, guidance, seed, scheduler and eta (strength is unused:
    /// the upscaler always runs its whole schedule from noise).
    public var generation: GenerationOptions
    /// The noise the low-resolution image is given before it conditions the UNet, as a
    /// timestep of the `low_res_scheduler` (0...`max_noise_level`); also the UNet's class label.
    public var noiseLevel: Int
    /// Tile side in input pixels (rounded down to a multiple of `StableDiffusionUpscale.tileMultiple`);
    /// 0, or a tile at least the image's size, runs the image whole, exactly as diffusers does.
    public var tileSize: Int
    /// Input pixels that neighbouring tiles share and cross-fade over (less than half a tile).
    public var tileOverlap: Int

    public init(prompt: String, negativePrompt: String = "", steps: Int = 75, guidanceScale: Float = 9,
                noiseLevel: Int = 20, seed: UInt64 = 0, scheduler: SchedulerName? = nil, eta: Float = 0,
                tileSize: Int = 0, tileOverlap: Int = 8) {
        generation = GenerationOptions(prompt: prompt, negativePrompt: negativePrompt, steps: steps,
                                       guidanceScale: guidanceScale, strength: 1, seed: seed,
                                       scheduler: scheduler, eta: eta)
        self.noiseLevel = noiseLevel
        self.tileSize = tileSize
        self.tileOverlap = tileOverlap
    }
}

/// The Stable Diffusion x4 upscaler (`stabilityai/stable-diffusion-x4-upscaler` layout),
/// loaded once from its diffusers folder and reused for every image.
///
/// This implementation matches: diffusers 0.42.1 StableDiffusionUpscalePipeline with
/// `generator=torch.Generator("cpu").manual_seed(seed)`. The image is floored to a multiple of
/// the VAE's scale factor (PIL bicubic resize when it is not one already), scaled to [-1, 1] and
/// noised by the `low_res_scheduler` (DDPM) at `noise_level`; latents of the image's own size
/// denoise with the 7-channel UNet (latents + noised image, the noise level as class label, both
/// duplicated under guidance), and the VAE decodes them at 4x with scaling factor 0.08333 (the
/// value diffusers forces whatever the VAE config says). Draws from the generator: the low-res
/// noise `[1, 3, H, W]`, then the latents `[1, 4, H, W]`, then any step noise of the scheduler.
///
/// Tiling (`tileSize`): the same two full-size draws are made and cropped per tile, so a tile
/// starts from exactly the noise the untiled run uses there; step noise (DDIM with eta, DDPM,
/// Euler a) continues from the one generator, tile after tile in raster order. Each tile still
/// sees only its own context (the UNet's attention and receptive field stop at the tile's
/// edges) and stochastic steps draw differently, so a tiled result is not bit-identical to the
/// untiled one; decoded tiles are cross-faded linearly over their overlap (4x `tileOverlap`
/// output pixels), which leaves no hard seam.
///
/// Limitations: batch 1, no safety checker or watermarker, no `clip_skip`.
public final class StableDiffusionUpscale: Sendable {
    /// The scaling factor diffusers uses for the upscaler's VAE whatever its config says.
    public static let latentScalingFactor: Float = 0.08333
    /// Tile sides are multiples of this, so every UNet level of the real x4 UNet (3 downsamplings)
    /// divides them.
    public static let tileMultiple = 8

    /// Text encoder, tokenizer, UNet, VAE and the denoising scheduler's config.
    public let components: StableDiffusion
    /// The scheduler that noises the low-resolution image (DDPM in the released model).
    public let lowResScheduler: any Scheduler
    /// `max_noise_level` of model_index.json (350 in the released model).
    public let maxNoiseLevel: Int

    public init(components: StableDiffusion, lowResScheduler: any Scheduler, maxNoiseLevel: Int) throws {
        let unet = components.unet.config, latentChannels = components.vae.config.latentChannels
        guard unet.inChannels == latentChannels + 3, unet.numClassEmbeds != nil else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: "x4 upscale", channels: unet.inChannels)
        }
        self.components = components
        self.lowResScheduler = lowResScheduler
        self.maxNoiseLevel = maxNoiseLevel
    }

    /// Loads an upscaler pipeline folder (`model_index.json` of StableDiffusionUpscalePipeline).
    public convenience init(folder url: URL) throws {
        let folder = try DiffusersPipelineFolder(url: url)
        guard folder.components["low_res_scheduler"] != nil else {
            throw PipelinesError.missingComponent(path: url.path, component: "low_res_scheduler")
        }
        let lowRes = try SchedulerFactory.load(
            contentsOf: url.appendingPathComponent("low_res_scheduler/scheduler_config.json"))
        try self.init(components: StableDiffusion(folder: folder), lowResScheduler: lowRes,
                      maxNoiseLevel: Self.maxNoiseLevel(in: url))
    }

    /// Whether `url` is a diffusers folder of the x4 upscaler (its model_index.json's `_class_name`).
    public static func isUpscalerFolder(_ url: URL) -> Bool {
        (try? DiffusersPipelineFolder(url: url))?.pipelineClass == "StableDiffusionUpscalePipeline"
    }

    /// `max_noise_level` from model_index.json; the pipeline's default, 350, when absent.
    private static func maxNoiseLevel(in url: URL) throws -> Int {
        let data = try Data(contentsOf: url.appendingPathComponent("model_index.json"))
        let index = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return index?["max_noise_level"] as? Int ?? 350
    }

    /// The VAE's upscaling factor (4 for the released model): the output is this many times the
    /// (floored) input.
    public var scale: Int { components.vaeScaleFactor }

    /// The image upscaled `scale` times; see the type's documentation for what matches diffusers.
    /// Alpha is enlarged with bicubic interpolation beside it; `outscale` other than `scale`
    /// resizes the result with Lanczos to that many times the input (`outscaled`).
    public func upscale(_ image: Imaging.Image, options: UpscaleOptions, outscale: Double? = nil,
                        progress: StepCallback? = nil) throws -> Imaging.Image {
        guard (0...maxNoiseLevel).contains(options.noiseLevel) else {
            throw PipelinesError.invalidNoiseLevel(level: options.noiseLevel, maximum: maxNoiseLevel)
        }
        let hiddenStates = try components.encoderHiddenStates(options.generation)
        let lowRes = try preprocess(image)
        let (height, width) = (lowRes.shape[2], lowRes.shape[3])
        var generator = TorchGenerator(seed: options.generation.seed)
        let noisedLowRes = try lowResScheduler.addNoise(original: lowRes, noise: generator.randn(lowRes.shape),
                                                        timestep: Double(options.noiseLevel))
        let scheduler = try components.makeScheduler(options.generation)
        let noise = scheduler.initNoiseSigma * generator.randn([1, components.vae.config.latentChannels, height, width])
        let layout = Self.tileLayout(width: width, height: height, tileSize: options.tileSize,
                                     overlap: options.tileOverlap)
        // The noised low-res tile is the UNet's extra input channels, the noise level its class label.
        var denoiser = DenoisingLoop(unet: components.unet,
                                     conditioning: UNetConditioning(encoderHiddenStates: hiddenStates,
                                                                    classLabel: options.noiseLevel),
                                     guidanceScale: options.generation.guidanceScale,
                                     usesGuidance: options.generation.usesGuidance)
        var blend = TileBlend(layout: layout.scaled(by: scale))
        let tiles = layout.tiles
        for (index, tile) in tiles.enumerated() {
            var tileScheduler = scheduler
            let tileProgress = progress.map { callback in
                { (step: Int, total: Int) in callback(index * total + step, total * tiles.count) }
            }
            denoiser.extraChannels = tile.crop(noisedLowRes)
            let latents = try denoiser.run(tile.crop(noise), timesteps: tileScheduler.timesteps, scheduler: &tileScheduler,
                                           generator: &generator, progress: tileProgress)
            blend.add(components.vae.decode(latents / Self.latentScalingFactor), tile: index)
        }
        var result = ImageConversion.image(fromDecoded: blend.result())
        if image.hasAlpha { result = result.withAlpha(upscaledFrom: image) }
        return result.outscaled(from: image, by: outscale, native: scale)
    }

    /// The tiles of a `width` x `height` input: sides of `tileSize` rounded down to a multiple
    /// of `tileMultiple` (at least one multiple; 0 runs the image whole), sharing `overlap`
    /// pixels (clamped below half a tile, so only neighbours overlap), the last tile of a side
    /// moved back to end at its edge.
    static func tileLayout(width: Int, height: Int, tileSize: Int, overlap: Int) -> TileLayout {
        let side = tileSize <= 0 ? max(width, height) : max(tileMultiple, tileSize - tileSize % tileMultiple)
        return TileLayout(width: width, height: height, tile: side, overlap: max(0, min(overlap, (side - 1) / 2)),
                          lastTile: .endAligned)
    }

    /// VaeImageProcessor(resample="bicubic").preprocess: floored to a multiple of the VAE's
    /// scale factor with a PIL-like bicubic resize (rounded back to 8 bits for an 8-bit image,
    /// as PIL works in 8 bits), then scaled to [-1, 1].
    // -> [1, 3, H, W]
    private func preprocess(_ image: Imaging.Image) throws -> Tensor {
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: scale)
        var resized = image
        if size.width != image.width || size.height != image.height {
            resized = image.resized(width: size.width, height: size.height, filter: .bicubic)
            if image.bitDepth == 8 { resized.samples = resized.samples.map { ($0 * 255).rounded() / 255 } }
        }
        return ImageConversion.vaeInput(resized, width: size.width, height: size.height)
    }
}
