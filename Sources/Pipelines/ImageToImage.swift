import Foundation
import Imaging
import Schedulers
import Tensors

extension StableDiffusion {
    /// diffusers' StableDiffusionImg2ImgPipeline with
    /// `generator=torch.Generator("cpu").manual_seed(options.seed)`; with `controls`,
    /// StableDiffusionControlNetImg2ImgPipeline, several controls acting as its
    /// MultiControlNetModel (residuals summed in order); with an SDXL model,
    /// StableDiffusionXLImg2ImgPipeline (`sdxlConditioning`) or, with controls,
    /// StableDiffusionXLControlNetImg2ImgPipeline, which draw in the same order.
    ///
    /// The image is worked on at its size floored to a multiple of 8 (Lanczos-resized when it
    /// is not one already) and the result has that size; each control map is resized to that
    /// size and kept in 0...1. Random draws: the VAE sample, then the noise. At strength 1
    /// the encoded image is still noised at the first timestep, as diffusers does (with a
    /// `leading` schedule that first timestep is below the training maximum, so a trace of
    /// the image remains).
    ///
    /// With `refiner` (an SDXL base only, without controls), diffusers' base + refiner hand-over:
    /// the base runs its strength timesteps down to the switch (`denoising_end`, its latents
    /// handed over undecoded), the refiner the model schedule's timesteps below it
    /// (`denoising_start`: no new noise, strength no longer counts), drawing on from the same
    /// generator; the base's VAE decodes.
    public func imageToImage(_ image: Imaging.Image, controls: [ControlInput] = [], refiner: RefinerHandOver? = nil,
                             options: GenerationOptions, progress: StepCallback? = nil) throws -> Imaging.Image {
        guard unet.config.inChannels == vae.config.latentChannels else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: controls.isEmpty ? "img2img" : "ControlNet img2img",
                                                         channels: unet.config.inChannels)
        }
        try checkHandOver(to: refiner, controls: controls)
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        let (options, conditioning) = try guidedConditioning(options, controls: controls, width: size.width, height: size.height)
        try validate(controls)
        let initImage = ImageConversion.vaeInput(image, width: size.width, height: size.height)
        var scheduler = try makeScheduler(options)
        let scheduled = try strengthTimesteps(&scheduler, options: options)
        var timesteps = scheduled
        var refinement: RefinerRun?
        if let refiner {
            timesteps = refiner.baseTimesteps(timesteps, scheduler: scheduler)
            refinement = try RefinerRun(refiner, options: options, width: size.width, height: size.height)
        }
        let total = timesteps.count + (refinement?.timesteps.count ?? 0)
        // prepare_latents: the posterior sample draws first, then the noise
        var generator = TorchGenerator(seed: options.seed)
        let imageLatents = encodeSample(initImage, generator: &generator)
        let noise = generator.randn(imageLatents.shape)
        // noised at the strength's first timestep even where the hand-over leaves the base none
        var latents = try scheduler.addNoise(original: imageLatents, noise: noise, timestep: scheduled[0])
        var loop = DenoisingLoop(unet: unet, conditioning: conditioning, options: options)
        loop.controlNets = ControlNets(controls, width: size.width, height: size.height)
        latents = try loop.run(latents, timesteps: timesteps, scheduler: &scheduler, generator: &generator,
                               progress: counted(progress, from: 0, of: total))
        if var refinement {
            latents = try refinement.refine(latents, generator: &generator, progress: counted(progress, from: timesteps.count, of: total))
        }
        return decodeImage(latents)
    }

    /// diffusers hands over only from its SDXL img2img and inpaint pipelines, to a refiner whose
    /// UNet takes the base's latents.
    func checkHandOver(to refiner: RefinerHandOver?, controls: [ControlInput]) throws {
        guard let refiner else { return }
        if sdxl == nil { throw PipelinesError.refinerNeedsSDXLBase(reason: "the model is not SDXL") }
        if !controls.isEmpty { throw PipelinesError.refinerNeedsSDXLBase(reason: "ControlNet pipelines do not hand over to a refiner") }
        let channels = refiner.refiner.unet.config.inChannels
        if channels != vae.config.latentChannels {
            throw PipelinesError.refinerNeedsSDXLBase(reason: "the refiner's UNet takes \(channels) channels, the base's latents have \(vae.config.latentChannels)")
        }
    }

    /// The width of the text states the UNet and ControlNets attend to: both encoders' for SDXL.
    var textDimension: Int { textEncoder.config.hiddenSize + (sdxl?.textEncoder2.config.hiddenSize ?? 0) }

    /// Each control's window and its fit to this pipeline's UNet, text encoder and VAE.
    /// `sampleChannels`: what the ControlNets are fed (`ControlInput.validate`).
    func validate(_ controls: [ControlInput], sampleChannels: Int? = nil) throws {
        for (index, control) in controls.enumerated() {
            try control.validate(index: index, unet: unet, textDimension: textDimension,
                                 pixelsPerLatent: vaeScaleFactor, sampleChannels: sampleChannels)
        }
    }
}
