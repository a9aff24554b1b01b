import Foundation
import Imaging
import Schedulers
import Tensors

extension StableDiffusion {
    /// The recipe's `edit`: DDIM inversion of the image under `sourcePrompt`, then regeneration
    /// under `options.prompt` from the inverted latents.
    ///
    /// This matches, call for call (tools/reference/inversion_fixtures.py):
    /// 1. `latents = vae.encode(preprocess(image)).latent_dist.mean * scaling_factor`;
    /// 2. `DDIMInverseScheduler.from_config(pipe.scheduler.config)` over `options.steps`, the
    ///    UNet conditioned on `sourcePrompt` without classifier-free guidance;
    /// 3. diffusers' StableDiffusionPipeline with `DDIMScheduler.from_config(...)`,
    ///    `options.prompt`, `negativePrompt`, `guidanceScale`, `steps`, `eta`, `latents=` the
    ///    inverted latents and `generator=torch.Generator("cpu").manual_seed(options.seed)`
    ///    (drawn from only when eta > 0).
    ///
    /// With an SDXL model the UNet is conditioned as SDXL's pipelines condition it (both encoders,
    /// pooled embeddings, time ids of the working size, `force_zeros_for_empty_prompt`) and step 3
    /// is StableDiffusionXLPipeline (tools/reference/sdxl_inversion_fixtures.py).
    ///
    /// With `controls`, step 3 is StableDiffusionControlNetPipeline (ControlNets act during the
    /// regeneration only, as in `imageToImage`: maps resized to the working size,
    /// guidance windows over the regeneration steps, residuals summed); the inversion stays
    /// uncontrolled.
    ///
    /// `options.scheduler` and `options.strength` are ignored: the recipe fixes DDIM and runs
    /// the whole schedule. `progress` sees the inversion steps then the regeneration steps, as
    /// one count of `2 * steps` (a cancellation's `step` counts within its phase). The image is
    /// worked on at its size floored to a multiple of 8, as img2img does. With
    /// `options.prompt == sourcePrompt` and guidance 1 the output should retrace the input, as
    /// far as the model allows (see `reconstructionPSNR`).
    public func invertAndEdit(_ image: Imaging.Image, sourcePrompt: String, options: GenerationOptions,
                              controls: [ControlInput] = [], progress: StepCallback? = nil) throws -> Imaging.Image {
        try validate(controls)
        let inverted = try invertedLatents(image, sourcePrompt: sourcePrompt, options: options,
                                           progress: counted(progress, from: 0, of: 2 * options.steps))
        let regenerated = try regenerate(from: inverted, options: options, controls: controls,
                                         progress: counted(progress, from: options.steps, of: 2 * options.steps))
        return decodeImage(regenerated)
    }

    /// How faithfully `invertAndEdit` with the same prompt and no guidance gives the image back:
    /// the PSNR in dB (infinity when identical) between that output and the image as the
    /// pipeline sees it (at its working size, in 8 bits). It measures the VAE's round trip and
    /// the inversion's drift together.
    public func reconstructionPSNR(_ image: Imaging.Image, prompt: String, steps: Int = 50, clipSkip: Int? = nil,
                                   progress: StepCallback? = nil) throws -> Double {
        let options = GenerationOptions(prompt: prompt, steps: steps, guidanceScale: 1, clipSkip: clipSkip)
        let output = try invertAndEdit(image, sourcePrompt: prompt, options: options, progress: progress)
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        // the VAE input mapped back to 8 bits is the image exactly as the pipeline saw it
        let seen = ImageConversion.image(
            fromDecoded: ImageConversion.vaeInput(image, width: size.width, height: size.height))
        return ImageFidelity.psnr(output, seen)
    }

    /// Steps 1 and 2: the posterior mean of the encoded image, run up the DDIM schedule.
    // -> [1, latent_channels, H / 8, W / 8]
    func invertedLatents(_ image: Imaging.Image, sourcePrompt: String, options: GenerationOptions,
                         progress: StepCallback?) throws -> Tensor {
        guard unet.config.inChannels == vae.config.latentChannels else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: "edit", channels: unet.config.inChannels)
        }
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        let pixels = ImageConversion.vaeInput(image, width: size.width, height: size.height)
        let latents = encodeMean(pixels)
        var sourceOptions = options
        sourceOptions.prompt = sourcePrompt
        sourceOptions.guidanceScale = 1
        let loop = DenoisingLoop(unet: unet, conditioning: try conditioning(sourceOptions, width: size.width, height: size.height),
                                 options: sourceOptions)
        var scheduler: any Scheduler = try DDIMInverseScheduler(config: schedulerConfig)
        try scheduler.setTimesteps(options.steps)
        // the inverse scheduler draws no noise; the loop's signature wants a generator
        var generator = TorchGenerator(seed: options.seed)
        return try loop.run(latents, timesteps: scheduler.timesteps, scheduler: &scheduler, generator: &generator,
                            progress: progress)
    }

    /// Step 3: StableDiffusion(XL)Pipeline's (with `controls`, the ControlNet pipeline's)
    /// denoising loop from given latents, with DDIM.
    // latents: [1, 4, h, w] -> [1, 4, h, w]
    func regenerate(from latents: Tensor, options: GenerationOptions, controls: [ControlInput] = [],
                    progress: StepCallback?) throws -> Tensor {
        var ddim = try DDIMScheduler(config: schedulerConfig)
        ddim.eta = options.eta
        var scheduler: any Scheduler = ddim
        try scheduler.setTimesteps(options.steps)
        let (width, height) = (latents.shape[3] * vaeScaleFactor, latents.shape[2] * vaeScaleFactor)
        var generator = TorchGenerator(seed: options.seed)
        let start = scheduler.initNoiseSigma * latents
        var loop = DenoisingLoop(unet: unet, conditioning: try conditioning(options, width: width, height: height), options: options)
        loop.controlNets = ControlNets(controls, width: width, height: height)
        return try loop.run(start, timesteps: scheduler.timesteps, scheduler: &scheduler, generator: &generator,
                            progress: progress)
    }
}
