import Foundation
import Imaging
import Pipelines
import Recipes

/// What one image became, with what the report shows beside it.
struct EditResult {
    var image: Image
    var before: Image
    var mask: Image?
    /// PNG text chunks: A1111's `parameters` plus Overpaint's own record.
    var text: [(key: String, value: String)]
    /// The input's EXIF and ICC profile, for `output.metadata: keep`.
    var metadata: ImageMetadata
}

/// A job's files as decoded images.
struct LoadedInput: Sendable {
    var image: Image
    /// Read with the image, from the same decoding.
    var metadata: ImageMetadata
    var mask: Image?
}

/// Applies a recipe's edits to one image, in order, each feeding the next.
struct ImageEditor {
    let recipe: Recipe
    let inputRoot: URL
    let maxPixels: Int
    /// Loaded before the first image (`ModelCache.loadEveryModel`).
    let models: ModelCache
    /// Polled before each denoising step and upscaling tile: a stop request ends the edit there.
    let stop: StopRequest
    /// Shown each step and tile.
    let display: Progress

    /// The pipelines' step callback: shows the step, and carries on unless a stop was requested.
    var progress: StepCallback { progress(unit: "step") }

    /// The same for loops over `unit`s ("tile" for Real-ESRGAN).
    func progress(unit: String) -> StepCallback {
        { [stop, display] step, steps in
            display.step(step, of: steps, unit: unit)
            return !stop.isRequested
        }
    }

    /// The job's photo and mask, decoded. Touches no model, so it may run on another thread
    /// while an earlier image is edited.
    func load(_ job: Job) throws -> LoadedInput {
        let (image, metadata) = try ImageFile.readWithMetadata(inputRoot.appendingPathComponent(job.input),
                                                               maxPixels: maxPixels)
        return LoadedInput(
            image: image, metadata: metadata,
            mask: try job.mask.map { try ImageFile.read(inputRoot.appendingPathComponent($0), maxPixels: maxPixels) })
    }

    func edit(_ input: LoadedInput, job: Job) throws -> EditResult {
        var image = input.image
        for edit in recipe.edits {
            image = try apply(edit, to: image, maskImage: input.mask, job: job)
        }
        return EditResult(image: image, before: input.image, mask: input.mask, text: parameters(job, result: image),
                          metadata: input.metadata)
    }

    private func apply(_ edit: Edit, to image: Image, maskImage: Image?, job: Job) throws -> Image {
        switch edit {
        case .fill(let fill):
            let mask = try loadMask(maskImage, job: job, fitting: image, resize: fill.resizeMask)
                .grown(by: fill.maskGrow)
            switch fill.method {
            case .telea: return try TeleaInpaint.inpaint(image, mask: mask, radius: Double(fill.radius))
            case .patchmatch:
                var options = PatchMatchFill.Options()
                options.seed = job.seed
                return try PatchMatchFill.fill(image, mask: mask, options: options)
            }
        case .resize(let resize):
            return image.resized(toFit: resize.width, resize.height, mode: ResizeMode(resize.mode),
                                 filter: ResampleFilter(resize.filter))
        case .canny(let canny):
            return try Canny.edges(of: image, low: Double(canny.low), high: Double(canny.high))
        case .img2img(let generation):
            return try imageToImage(image, generation: generation, job: job)
        case .inpaint(let inpaint):
            return try self.inpaint(image, inpaint, maskImage: maskImage, job: job)
        case .upscale(let upscale):
            return try self.upscale(image, upscale, job: job)
        case .edit(let inversion):
            guard let model = inversion.generation.model else { throw BatchError.image("\(job.input): edit needs a model") }
            let (pipeline, options) = try prepared(inversion.generation, model: model, job: job)
            let edited = try pipeline.invertAndEdit(image, sourcePrompt: inversion.sourcePrompt, options: options,
                                                    controls: controls(inversion.generation.control, for: image, job: job),
                                                    progress: progress)
            return edited.withAlpha(of: image)
        }
    }

    private func imageToImage(_ image: Image, generation: Edit.Generation, job: Job) throws -> Image {
        guard let model = generation.model else {
            throw BatchError.image("\(job.input): img2img needs a model")
        }
        let (pipeline, options) = try prepared(generation, model: model, job: job)
        let generated = try pipeline.imageToImage(image, controls: controls(generation.control, for: image, job: job),
                                                  refiner: refinerHandOver(generation), options: options, progress: progress)
        return generated.withAlpha(of: image)
    }

    /// The refiner a generation edit hands over to, loaded once per run.
    func refinerHandOver(_ generation: Edit.Generation) throws -> RefinerHandOver? {
        try generation.refiner.map { refiner in
            RefinerHandOver(refiner: try models.sdxlRefiner(at: refiner.model), switchAt: refiner.switchAt,
                            aestheticScore: refiner.aestheticScore, negativeAestheticScore: refiner.negativeAestheticScore)
        }
    }

    /// Each `control:` entry as the pipeline takes it: Canny maps are computed here from the
    /// image as OpenCV's Canny makes them; depth maps come from the job's control file or a depth model.
    func controls(_ controls: [Edit.Control], for image: Image, job: Job) throws -> [ControlInput] {
        try controls.map { control in
            let condition: Image
            switch (control.type, control.source) {
            case (.canny, _):
                condition = try Canny.edges(of: image, low: Double(control.low), high: Double(control.high))
            case (.depth, .file):
                guard let file = job.control else { throw BatchError.image("\(job.input): no control map found") }
                condition = try ImageFile.read(inputRoot.appendingPathComponent(file), maxPixels: maxPixels)
            case (.depth, .estimate):
                condition = try estimatedDepth(of: image, depthModel: control.depthModel, job: job)
            }
            return ControlInput(model: try models.cached(control.model, load: ControlInput.loadModel(folder:)),
                                condition: condition,
                                scale: Float(control.scale), start: control.start, end: control.end)
        }
    }

    /// The depth map of `image` estimated by `depthModel`, for a `source: estimate` control.
    private func estimatedDepth(of image: Image, depthModel: String?, job: Job) throws -> Image {
        guard let depthModel else { throw BatchError.image("\(job.input): source: estimate needs depth_model") }
        let estimator: DepthEstimation
        do { estimator = try models.depthEstimator(at: depthModel) } catch {
            throw BatchError.image("\(job.input): \(error.localizedDescription)")
        }
        return estimator.controlImage(for: image)
    }

    /// Real-ESRGAN (or an SD x4 upscaler folder: SDUpscaling.swift), tiled so any size fits in
    /// memory (`tile: 0` runs the image whole); `scale` other than the network's own resizes
    /// its output with Lanczos, as Real-ESRGAN's --outscale does.
    private func upscale(_ image: Image, _ upscale: Edit.Upscale, job: Job) throws -> Image {
        guard let path = ModelCache.resolveUpscaler(upscale.model, recipe: recipe.source) else {
            throw BatchError.image("\(job.input): no upscaler model '\(upscale.model)' (run scripts/fetch-realesrgan, or give a .param/.safetensors path or an SD x4 upscaler folder)")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            return try diffusionUpscale(image, upscale, folder: path, job: job)
        }
        return try models.realESRGAN(at: path).upscale(image, scale: upscale.scale, tileSize: upscale.tile,
                                                       tileOverlap: upscale.tileOverlap, progress: progress(unit: "tile"))
    }

    func options(_ generation: Edit.Generation, job: Job) -> GenerationOptions {
        GenerationOptions(prompt: job.prompt ?? generation.prompt, negativePrompt: generation.negativePrompt,
                          steps: generation.steps, guidanceScale: Float(generation.guidance),
                          strength: generation.strength, seed: job.seed, scheduler: generation.scheduler,
                          eta: Float(generation.eta), clipSkip: generation.skippedCLIPLayers,
                          prompt2: generation.prompt2, negativePrompt2: generation.negativePrompt2,
                          negativePromptGiven: generation.negativePromptGiven,
                          sdxlSize: SDXLSizeConditioning(originalSize: generation.originalSize,
                                                         cropTopLeft: generation.cropTopLeft,
                                                         targetSize: generation.targetSize))
    }

    /// The job's mask as a 0/1 mask of the image's size: a mask of another size is an error
    /// unless the recipe asks for it to be resized.
    func loadMask(_ maskImage: Image?, job: Job, fitting image: Image, resize: Bool) throws -> Mask {
        guard let maskImage, let maskPath = job.mask else {
            throw BatchError.image("\(job.input): this edit needs a mask and none was found")
        }
        var source = maskImage
        if source.width != image.width || source.height != image.height {
            guard resize else {
                throw BatchError.image("\(maskPath): mask is \(source.width)x\(source.height) but \(job.input) is \(image.width)x\(image.height) (set resize_mask: true to resize it)")
            }
            source = source.resized(width: image.width, height: image.height, filter: .bilinear)
        }
        return Mask(source).thresholded()
    }

    /// PNG text: A1111's `parameters` for the recipe's last generation edit (or a summary
    /// of the model-free edits), and the recipe's edits in `overpaint`.
    private func parameters(_ job: Job, result: Image) -> [(key: String, value: String)] {
        let edits = recipe.edits.map(\.name).joined(separator: ", ")
        let summary = "edits: \(edits), seed: \(job.seed), recipe: \(recipe.source.lastPathComponent)"
        let text: [(key: String, value: String)] = [(key: "overpaint", value: summary),
                                                   (key: "Software", value: "Overpaint \(BatchRunner.version)")]
        if let upscaled = diffusionUpscaleParameters(job, result: result) {
            return [(key: "parameters", value: upscaled.text)] + text
        }
        guard let last = recipe.edits.last(where: { $0.generation != nil }), let generation = last.generation,
              let model = generation.model else {
            return [(key: "parameters", value: "Overpaint \(BatchRunner.version), " + summary)] + text
        }
        var parameters = generationParameters(generation, model: model, job: job, result: result)
        if case .inpaint(let inpaint) = last {
            parameters.inpainting = GenerationParameters.Inpainting(inpaint)
            parameters.usesInpaintingModel = (try? models.stableDiffusion(at: model).unet.config.inChannels) == 9
            if inpaint.area == .masked, let size = maskedAreaSize(inpaint, model: model, job: job) {
                (parameters.width, parameters.height) = size
            }
        }
        return [(key: "parameters", value: parameters.text)] + text
    }

    /// The size an `area: masked` inpaint works at, as `inpaintMaskedArea` takes it: the recipe's
    /// `width` / `height`, else the VAE's `sample_size`. A1111 writes this as `Size`: "Only masked"
    /// resizes the crop to `p.width` x `p.height` and leaves them as they were, and
    /// `create_infotext` writes `"Size": f"{p.width}x{p.height}"` (modules/processing.py).
    private func maskedAreaSize(_ inpaint: Edit.Inpaint, model: String, job: Job) -> (width: Int, height: Int)? {
        guard let sampleSize = try? prepared(inpaint.generation, model: model, job: job).pipeline.vae.config.sampleSize
        else { return nil }
        return (inpaint.width ?? sampleSize, inpaint.height ?? sampleSize)
    }

    /// A1111's fields for one img2img, inpaint or edit generation that made `result`.
    private func generationParameters(_ generation: Edit.Generation, model: String, job: Job,
                                      result: Image) -> GenerationParameters {
        let sampler = GenerationParameters.sampler(
            generation.scheduler, modelClassName: (try? models.stableDiffusion(at: model).schedulerConfig.className) ?? nil)
        return GenerationParameters(
            prompt: job.prompt ?? generation.prompt, negativePrompt: generation.negativePrompt,
            steps: generation.steps, sampler: sampler, guidance: generation.guidance, seed: job.seed,
            width: result.width, height: result.height, modelHash: models.modelHash(at: model),
            modelName: GenerationParameters.checkpointName(model), strength: generation.strength,
            clipSkip: generation.clipSkip,
            // Control maps are made at the size of the image the edit reads, which is the result's.
            controlNets: generation.control.map { control in
                GenerationParameters.ControlNetUnit(control, modelHash: models.controlNetHash(at: control.model),
                                                    mapResolution: min(result.width, result.height))
            },
            loraHashes: loraHashes(generation, job: job), embeddingHashes: embeddingHashes(generation, job: job),
            vaeHash: recipe.vae.flatMap { ModelCache.resolveVAE($0, recipe: recipe.source) }
                .flatMap { models.modelHash(at: $0, component: "") },
            vaeName: recipe.vae.map { URL(fileURLWithPath: $0).lastPathComponent },
            refiner: generation.refiner.map { refiner in
                GenerationParameters.Refiner(name: GenerationParameters.checkpointName(refiner.model),
                                             hash: models.modelHash(at: refiner.model), switchAt: refiner.switchAt)
            })
    }
}

extension Edit {
    /// What an img2img, inpaint or edit generates with; nil for the model-free edits and upscale.
    var generation: Generation? {
        switch self {
        case .img2img(let generation): generation
        case .inpaint(let inpaint): inpaint.generation
        case .edit(let inversion): inversion.generation
        default: nil
        }
    }
}

extension Image {
    /// This RGB result with the alpha of `original` put back, when sizes agree: generation
    /// works on colour, and a transparent background should stay transparent.
    func withAlpha(of original: Image) -> Image {
        guard original.hasAlpha, !hasAlpha, width == original.width, height == original.height else { return self }
        var result = Image(width: width, height: height, channels: colorChannels + 1, bitDepth: original.bitDepth)
        for pixel in 0..<pixelCount {
            for c in 0..<colorChannels {
                result.samples[pixel * result.channels + c] = samples[pixel * channels + c]
            }
            result.samples[pixel * result.channels + colorChannels] = original.samples[pixel * original.channels + original.channels - 1]
        }
        return result
    }
}

extension ResizeMode {
    init(_ mode: Edit.Resize.Mode) {
        switch mode {
        case .fit: self = .fit
        case .fill: self = .fill
        case .stretch: self = .stretch
        }
    }
}

extension ResampleFilter {
    init(_ filter: Edit.Resize.Filter) {
        switch filter {
        case .lanczos: self = .lanczos3
        case .bicubic: self = .bicubic
        case .bilinear: self = .bilinear
        case .nearest: self = .nearest
        }
    }
}

extension ImageFormat {
    init(_ format: OutputFormat) {
        switch format {
        case .png: self = .png
        case .jpeg: self = .jpeg
        case .tiff: self = .tiff
        case .webp: self = .webp
        }
    }
}
