import Foundation
import Imaging
import Pipelines
import Recipes

/// The `upscale` edit with a Stable Diffusion x4 upscaler folder as its model (a diffusers
/// folder whose model_index.json names StableDiffusionUpscalePipeline); Real-ESRGAN files go
/// to `RealESRGANUpscale` instead.
extension ImageEditor {
    /// The image upscaled by the SD x4 upscaler, tiled by the edit's `tile` / `tile_overlap`
    /// (`tile: 0` runs it whole, as diffusers does); a `scale` other than the model's own resizes
    /// the result with Lanczos, and alpha is upscaled with bicubic interpolation.
    func diffusionUpscale(_ image: Image, _ upscale: Edit.Upscale, folder: String, job: Job) throws -> Image {
        guard StableDiffusionUpscale.isUpscalerFolder(URL(fileURLWithPath: folder)) else {
            throw BatchError.image("\(job.input): \(folder) is a folder but not an SD x4 upscaler (its model_index.json must name StableDiffusionUpscalePipeline)")
        }
        let pipeline = try models.diffusionUpscaler(at: folder)
        let diffusion = upscale.diffusion
        let options = UpscaleOptions(prompt: job.prompt ?? diffusion.prompt, negativePrompt: diffusion.negativePrompt,
                                     steps: diffusion.steps, guidanceScale: Float(diffusion.guidance),
                                     noiseLevel: diffusion.noiseLevel, seed: job.seed, scheduler: diffusion.scheduler,
                                     eta: Float(diffusion.eta), tileSize: upscale.tile, tileOverlap: upscale.tileOverlap)
        return try pipeline.upscale(image, options: options, outscale: upscale.scale, progress: progress)
    }

    /// A1111's `parameters` when the recipe's last generating edit is an SD x4 upscale.
    func diffusionUpscaleParameters(_ job: Job, result: Image) -> GenerationParameters? {
        let last = recipe.edits.last { edit in
            if case .upscale(let upscale) = edit { return upscale.usesDiffusionModel }
            return ["img2img", "inpaint", "edit"].contains(edit.name)
        }
        guard case .upscale(let upscale) = last else { return nil }
        let diffusion = upscale.diffusion
        let sampler = GenerationParameters.sampler(
            diffusion.scheduler,
            modelClassName: (try? models.diffusionUpscaler(at: upscale.model).components.schedulerConfig.className) ?? nil)
        return GenerationParameters(
            prompt: job.prompt ?? diffusion.prompt, negativePrompt: diffusion.negativePrompt, steps: diffusion.steps,
            sampler: sampler, guidance: diffusion.guidance, seed: job.seed, width: result.width,
            height: result.height, modelHash: models.modelHash(at: upscale.model),
            modelName: GenerationParameters.checkpointName(upscale.model), strength: nil)
    }
}

extension Edit.Upscale {
    /// Whether the model is a folder (an SD x4 upscaler) rather than a Real-ESRGAN file.
    var usesDiffusionModel: Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: model, isDirectory: &isFolder) && isFolder.boolValue
    }
}
