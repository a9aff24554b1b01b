import Foundation
import Imaging
import Schedulers
import Tensors

extension StableDiffusion {
    /// diffusers' StableDiffusionInpaintPipeline with
    /// `generator=torch.Generator("cpu").manual_seed(options.seed)`, for both kinds of UNet:
    /// a dedicated 9-channel inpainting UNet (noisy latents + mask + masked-image latents),
    /// or an ordinary 4-channel one, whose known region is replaced after every step by the
    /// original latents noised to the next timestep (latent blending).
    ///
    /// `mask` (1 = repaint) is binarized at 0.5 as diffusers does. The image is worked on at
    /// its size floored to a multiple of 8 (diffusers' `height`/`width` given as the image's).
    /// `fill` other than `.original` starts the masked region as A1111's "Masked content" does
    /// (`InpaintFill`). With `controls`, this is StableDiffusionControlNetInpaintPipeline (same
    /// random draws; the ControlNets see the noisy latents without the 9-channel extras). With
    /// `pasteBack`, the result is `pasteBack(_:onto:mask:)` of the generated image: the input's
    /// size, and every pixel where `mask` is 0 exactly the input's. With an SDXL model this is
    /// StableDiffusionXLInpaintPipeline (with controls, StableDiffusionXLControlNetInpaintPipeline),
    /// which draws in the same order and differs only in its conditioning (`sdxlConditioning`).
    ///
    /// With `refiner` (an SDXL base, no controls), diffusers' hand-over between two
    /// StableDiffusionXLInpaintPipeline calls: the base runs to the switch (`denoising_end`)
    /// and hands its latents over undecoded; the refiner (`denoising_start`) draws fresh noise,
    /// starts from those latents and blends its known region toward them, as diffusers does
    /// with latents for `image`.
    public func inpaint(_ image: Imaging.Image, mask: Mask, options: GenerationOptions, fill: InpaintFill = .original,
                        controls: [ControlInput] = [], refiner: RefinerHandOver? = nil, pasteBack: Bool = true,
                        progress: StepCallback? = nil) throws -> Imaging.Image {
        try checkHandOver(to: refiner, controls: controls)
        try validate(controls, sampleChannels: vae.config.latentChannels)
        var run = try prepareInpaint(image, mask: mask, options: options, controls: controls, fill: fill)
        var refinement: RefinerRun?
        if let refiner {
            run.timesteps = refiner.baseTimesteps(run.timesteps, scheduler: run.scheduler)
            refinement = try RefinerRun(refiner, options: run.options, width: run.initImage.shape[3],
                                        height: run.initImage.shape[2])
        }
        let total = run.timesteps.count + (refinement?.timesteps.count ?? 0)
        var (latents, generator) = try denoise(run, controls: controls, progress: counted(progress, from: 0, of: total))
        if var refinement {
            latents = try refinement.inpaint(latents, latentMask: run.latentMask, generator: &generator,
                                             progress: counted(progress, from: run.timesteps.count, of: total))
        }
        let generated = decodeImage(latents)
        return pasteBack ? try Self.pasteBack(generated, onto: image, mask: mask) : generated
    }

    /// The denoising loop from `run`'s start (with the ControlNets' residuals when there are
    /// controls), blending the known region back after each step for a 4-channel UNet; the
    /// generator as the loop leaves it.
    // -> [1, 4, h, w]
    private func denoise(_ run: InpaintRun, controls: [ControlInput],
                         progress: StepCallback?) throws -> (latents: Tensor, generator: TorchGenerator) {
        let (start, timesteps, latentMask, blending) = (run.start, run.timesteps, run.latentMask, run.blending)
        var scheduler = run.scheduler, generator = run.generator
        let blend: (Int, Tensor, any Scheduler) throws -> Tensor = { index, latents, scheduler in
            guard blending, let imageLatents = start.imageLatents else { return latents }
            return try Self.blendKnownRegion(latents, imageLatents: imageLatents, noise: start.noise, mask: latentMask,
                                             nextTimestep: index + 1 < timesteps.count ? timesteps[index + 1] : nil,
                                             scheduler: scheduler)
        }
        var loop = run.loop
        loop.controlNets = ControlNets(controls, width: run.initImage.shape[3], height: run.initImage.shape[2])
        let latents = try loop.run(start.latents, timesteps: timesteps, scheduler: &scheduler, generator: &generator,
                                   progress: progress, afterStep: blend)
        return (latents, generator)
    }

    /// Everything the inpainting loop starts from, with the generator after the draws that
    /// precede the first step.
    struct InpaintRun {
        /// The options the pipeline runs with (`guidedConditioning`'s).
        var options: GenerationOptions
        var start: (latents: Tensor, noise: Tensor, imageLatents: Tensor?)
        var loop: DenoisingLoop
        var scheduler: any Scheduler
        var generator: TorchGenerator
        var timesteps: [Double]
        var latentMask: Tensor
        var blending: Bool
        /// The image the VAE encodes (after `fill`'s pre-fill), `[1, 3, H, W]` in [-1, 1].
        var initImage: Tensor
    }

    /// The pipeline up to its denoising loop: prompt embeddings, timesteps, the start latents
    /// and the mask conditioning, drawing from the seeded generator in diffusers' order; the
    /// guidance as `controls` let it reach the UNet (`guidedConditioning`).
    func prepareInpaint(_ image: Imaging.Image, mask: Mask, options: GenerationOptions, controls: [ControlInput] = [],
                        fill: InpaintFill) throws -> InpaintRun {
        guard mask.width == image.width, mask.height == image.height else {
            throw PipelinesError.maskSizeMismatch(image: [image.width, image.height], mask: [mask.width, mask.height])
        }
        let latentChannels = vae.config.latentChannels
        let unetChannels = unet.config.inChannels
        guard unetChannels == latentChannels || unetChannels == 2 * latentChannels + 1 else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: "inpaint", channels: unetChannels)
        }
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        let latentShape = [1, latentChannels, size.height / vaeScaleFactor, size.width / vaeScaleFactor]
        let (options, conditioning) = try guidedConditioning(options, controls: controls, width: size.width, height: size.height)
        var scheduler = try makeScheduler(options)
        let timesteps = try strengthTimesteps(&scheduler, options: options)
        let source = fill.prefillsImage ? InpaintFill.prefilled(image, mask: mask) : image
        let initImage = ImageConversion.vaeInput(source, width: size.width, height: size.height)
        let maskCondition = ImageConversion.binaryMask(mask, width: size.width, height: size.height)
        let latentMask = ImageConversion.nearestResized(maskCondition, width: latentShape[3], height: latentShape[2])
        var generator = TorchGenerator(seed: options.seed)
        let blending = unetChannels == latentChannels
        let start = try prepareLatents(initImage, shape: latentShape, encodeImage: blending, options: options,
                                       fill: fill, latentMask: latentMask, firstTimestep: timesteps[0],
                                       scheduler: scheduler, generator: &generator)
        var loop = DenoisingLoop(unet: unet, conditioning: conditioning, options: options)
        if blending {
            // prepare_mask_latents encodes the masked image here too, for nothing: draw only its noise
            _ = generator.randn(latentShape)
        } else {
            loop.extraChannels = maskConditioning(initImage, maskCondition: maskCondition, latentMask: latentMask,
                                                  generator: &generator)
        }
        return InpaintRun(options: options, start: start, loop: loop, scheduler: scheduler, generator: generator,
                          timesteps: timesteps, latentMask: latentMask, blending: blending, initImage: initImage)
    }

    /// `prepare_latents`: the image's posterior sample (drawn first; only for a 4-channel UNet,
    /// strength < 1 or a `fill` other than original), then the noise; the start is the noised
    /// image latents below strength 1, else pure noise (even when a 4-channel UNet had the
    /// image encoded). Other `fill` modes replace the masked image latents first and always
    /// start from them noised (`InpaintFill`).
    private func prepareLatents(_ initImage: Tensor, shape: [Int], encodeImage: Bool, options: GenerationOptions,
                                fill: InpaintFill, latentMask: Tensor, firstTimestep: Double,
                                scheduler: any Scheduler, generator: inout TorchGenerator)
        throws -> (latents: Tensor, noise: Tensor, imageLatents: Tensor?) {
        let startsFromNoise = options.strength == 1 && fill == .original
        let encoded = encodeImage || !startsFromNoise ? encodeSample(initImage, generator: &generator) : nil
        let noise = generator.randn(shape)
        let imageLatents = encoded.map { fill.replacingMasked($0, latentMask: latentMask, generator: &generator) }
        if let imageLatents, !startsFromNoise {
            let latents = try scheduler.addNoise(original: imageLatents, noise: noise, timestep: firstTimestep)
            return (latents, noise, imageLatents)
        }
        return (noise * scheduler.initNoiseSigma, noise, imageLatents)
    }

    /// `prepare_mask_latents` for a 9-channel UNet: the latent-size mask and the posterior
    /// sample of `init_image * (mask_condition < 0.5)`, concatenated along channels.
    // -> [1, 1 + latent_channels, h, w]
    private func maskConditioning(_ initImage: Tensor, maskCondition: Tensor, latentMask: Tensor,
                                  generator: inout TorchGenerator) -> Tensor {
        let keep = Tensor(shape: maskCondition.shape, scalars: maskCondition.scalars.map { $0 < 0.5 ? 1 : 0 })
        let maskedImageLatents = encodeSample(initImage * keep, generator: &generator)
        return Tensor.concatenate([latentMask, maskedImageLatents], axis: 1)
    }

    /// The 4-channel step: `(1 - mask) * original + mask * latents`, the original noised to
    /// the next timestep (not noised after the last step).
    static func blendKnownRegion(_ latents: Tensor, imageLatents: Tensor, noise: Tensor, mask: Tensor,
                                         nextTimestep: Double?, scheduler: any Scheduler) throws -> Tensor {
        let original = try nextTimestep.map { try scheduler.addNoise(original: imageLatents, noise: noise, timestep: $0) }
            ?? imageLatents
        return (1 - mask) * original + mask * latents
    }

    /// `generated` composited onto `original` through `mask`: pixels where the mask is 0 are
    /// the original's samples exactly, others `original * (1 - m) + generated * m` (a soft,
    /// blurred mask blends the seam). `generated` is first Lanczos-resized to the original's
    /// size when they differ. The result keeps the original's channels (alpha included) and
    /// bit depth; a gray original takes the generated RGB's luma (ITU-R 601, as PIL's `L`).
    public static func pasteBack(_ generated: Imaging.Image, onto original: Imaging.Image,
                                 mask: Mask) throws -> Imaging.Image {
        guard mask.width == original.width, mask.height == original.height else {
            throw PipelinesError.maskSizeMismatch(image: [original.width, original.height],
                                                  mask: [mask.width, mask.height])
        }
        var source = generated
        if generated.width != original.width || generated.height != original.height {
            source = generated.resized(width: original.width, height: original.height, filter: .lanczos3)
        }
        var result = original
        for pixel in 0..<original.pixelCount {
            let weight = mask.values[pixel]
            guard weight != 0 else { continue }
            let painted = paintedColor(source, pixel: pixel, channels: original.colorChannels)
            for channel in 0..<original.colorChannels {
                let index = pixel * original.channels + channel
                result.samples[index] = original.samples[index] * (1 - weight) + painted[channel] * weight
            }
        }
        return result
    }

    private static func paintedColor(_ image: Imaging.Image, pixel: Int, channels: Int) -> [Float] {
        let base = pixel * image.channels
        guard image.colorChannels == 3 else { return [Float](repeating: image.samples[base], count: channels) }
        let (red, green, blue) = (image.samples[base], image.samples[base + 1], image.samples[base + 2])
        return channels == 1 ? [0.299 * red + 0.587 * green + 0.114 * blue] : [red, green, blue]
    }
}
