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
    public func imageToImage(_ image: Imaging.Image, controls: [ControlInput] = [], options: GenerationOptions,
                             progress: StepCallback? = nil) throws -> Imaging.Image {
        guard unet.config.inChannels == vae.config.latentChannels else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: controls.isEmpty ? "img2img" : "ControlNet img2img",
                                                         channels: unet.config.inChannels)
        }
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        let conditioning = try self.conditioning(options, width: size.width, height: size.height)
        try validate(controls)
        let initImage = ImageConversion.vaeInput(image, width: size.width, height: size.height)
        var scheduler = try makeScheduler(options)
        let timesteps = try strengthTimesteps(&scheduler, options: options)
        // prepare_latents: the posterior sample draws first, then the noise
        var generator = TorchGenerator(seed: options.seed)
        let imageLatents = encodeSample(initImage, generator: &generator)
        let noise = generator.randn(imageLatents.shape)
        let latents = try scheduler.addNoise(original: imageLatents, noise: noise, timestep: timesteps[0])
        var loop = DenoisingLoop(unet: unet, conditioning: conditioning, options: options)
        loop.controlNets = ControlNets(controls, width: size.width, height: size.height)
        let denoised = try loop.run(latents, timesteps: timesteps, scheduler: &scheduler, generator: &generator,
                                    progress: progress)
        return decodeImage(denoised)
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
