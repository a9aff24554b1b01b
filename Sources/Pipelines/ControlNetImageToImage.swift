import Foundation
import Imaging
import Models
import Schedulers
import Tensors

extension StableDiffusion {
    /// diffusers' StableDiffusionControlNetImg2ImgPipeline with
    /// `generator=torch.Generator("cpu").manual_seed(options.seed)`; several controls act as
    /// its MultiControlNetModel (residuals summed in order).
    ///
    /// As `imageToImage` (working size, strength, random draws: the VAE sample, then the
    /// noise); each control map is resized to the working size and kept in 0...1. Guess mode
    /// is on exactly when diffusers turns it on: for a first ControlNet with
    /// `global_pool_conditions`. No controls gives `imageToImage`'s result.
    public func controlNetImageToImage(_ image: Imaging.Image, controls: [ControlInput],
                                       options: GenerationOptions,
                                       progress: StepCallback? = nil) throws -> Imaging.Image {
        guard unet.config.inChannels == vae.config.latentChannels else {
            throw PipelinesError.unsupportedUNetChannels(pipeline: "ControlNet img2img", channels: unet.config.inChannels)
        }
        let size = try ImageConversion.workingSize(width: image.width, height: image.height, multiple: vaeScaleFactor)
        let hiddenStates = try encoderHiddenStates(options)
        for (index, control) in controls.enumerated() {
            try control.validate(index: index, unet: unet, textDimension: hiddenStates.shape[2],
                                 pixelsPerLatent: vaeScaleFactor)
        }
        let initImage = ImageConversion.vaeInput(image, width: size.width, height: size.height)
        var scheduler = try makeScheduler(options)
        let timesteps = try strengthTimesteps(&scheduler, options: options)
        // prepare_latents: the posterior sample draws first, then the noise
        var generator = TorchGenerator(seed: options.seed)
        let imageLatents = encodeSample(initImage, generator: &generator)
        let noise = generator.randn(imageLatents.shape)
        let latents = try scheduler.addNoise(original: imageLatents, noise: noise, timestep: timesteps[0])
        let loop = ControlNetDenoisingLoop(
            unet: unet, encoderHiddenStates: hiddenStates, guidanceScale: options.guidanceScale,
            usesGuidance: options.usesGuidance, controls: controls,
            conditions: controls.map { $0.conditionTensor(width: size.width, height: size.height) },
            guessMode: controls.first?.model.config.globalPoolConditions ?? false)
        let denoised = try loop.run(latents, timesteps: timesteps, scheduler: &scheduler, generator: &generator,
                                    progress: progress)
        return decodeImage(denoised)
    }
}

/// The denoising loop of diffusers' ControlNet pipelines: each step, every ControlNet in its
/// guidance window adds its scaled residuals to the UNet's skip connections and mid block.
struct ControlNetDenoisingLoop {
    let unet: UNet2DConditionModel
    /// `[2, 77 * chunks, d]` (negative, positive) with guidance, `[1, 77 * chunks, d]` without.
    let encoderHiddenStates: Tensor
    let guidanceScale: Float
    let usesGuidance: Bool
    let controls: [ControlInput]
    /// One `[1, 3, H, W]` control map per control, in 0...1.
    let conditions: [Tensor]
    /// diffusers' guess mode: with guidance the ControlNets see only the conditional half, and
    /// the unconditional half gets no residuals.
    let guessMode: Bool

    /// A 9-channel inpainting UNet's mask and masked-image latents, concatenated after the
    /// latents for the UNet only (the ControlNets see the latents alone, as diffusers'
    /// ControlNet inpaint pipeline feeds them).
    var extraChannels: Tensor?

    private var controlsConditionalHalfOnly: Bool { guessMode && usesGuidance }

    /// `afterStep` as `DenoisingLoop.run`'s (latent blending for a 4-channel inpainting UNet).
    // latents: [1, 4, h, w] -> [1, 4, h, w]
    func run(_ latents: Tensor, timesteps: [Double], scheduler: inout any Scheduler,
             generator: inout TorchGenerator, progress: StepCallback?,
             afterStep: (Int, Tensor, any Scheduler) throws -> Tensor = { _, latents, _ in latents }) throws -> Tensor {
        var latents = latents
        // prepare_control_image duplicates the map for guidance (unless in guess mode)
        let batchedConditions = conditions.map {
            usesGuidance && !controlsConditionalHalfOnly ? Tensor.concatenate([$0, $0], axis: 0) : $0
        }
        for (index, timestep) in timesteps.enumerated() {
            if let progress, !progress(index, timesteps.count) { throw PipelinesError.cancelled(step: index) }
            let scales = controls.map { $0.effectiveScale(step: index, of: timesteps.count) }
            let noisePrediction = try predictNoise(latents, timestep: timestep, scheduler: &scheduler,
                                                   conditions: batchedConditions, scales: scales)
            latents = try scheduler.step(modelOutput: noisePrediction, timestep: timestep, sample: latents,
                                         generator: &generator).prevSample
            latents = try afterStep(index, latents, scheduler)
        }
        return latents
    }

    /// The guided noise prediction with the ControlNets' residuals.
    private func predictNoise(_ latents: Tensor, timestep: Double, scheduler: inout any Scheduler,
                              conditions: [Tensor], scales: [Float]) throws -> Tensor {
        // diffusers scales `cat([latents] * 2)`; scaling is elementwise, so scale once, then stack
        let scaled = try scheduler.scaleModelInput(latents, timestep: timestep)
        let input = usesGuidance ? Tensor.concatenate([scaled, scaled], axis: 0) : scaled
        let residuals = controlResiduals(controlInput: controlsConditionalHalfOnly ? scaled : input,
                                         timestep: Float(timestep), conditions: conditions, scales: scales)
        let unetInput = extraChannels.map {
            Tensor.concatenate([input, usesGuidance ? Tensor.concatenate([$0, $0], axis: 0) : $0], axis: 1)
        } ?? input
        let output = unet(sample: unetInput, timestep: Float(timestep), encoderHiddenStates: encoderHiddenStates,
                          downBlockAdditionalResiduals: residuals?.down, midBlockAdditionalResidual: residuals?.mid)
        guard usesGuidance else { return output }
        let halves = output.chunked(2, axis: 0)
        return halves[0] + guidanceScale * (halves[1] - halves[0])
    }

    /// MultiControlNetModel's sum of residuals. A control outside its window (scale 0) would
    /// add only zeros, so it is not run; with none left the UNet gets no residuals, which
    /// equals adding zeros.
    // controlInput: [B, 4, h, w] -> down: one [2, C_i, h_i, w_i] per skip, mid: [2, C, h', w'] (B 1 without guidance)
    private func controlResiduals(controlInput: Tensor, timestep: Float, conditions: [Tensor],
                                  scales: [Float]) -> (down: [Tensor], mid: Tensor)? {
        let hiddenStates = controlsConditionalHalfOnly ? encoderHiddenStates.chunked(2, axis: 0)[1]
                                                       : encoderHiddenStates
        var sum: (down: [Tensor], mid: Tensor)?
        for (control, (condition, scale)) in zip(controls, zip(conditions, scales)) where scale != 0 {
            let (down, mid) = control.model(sample: controlInput, timestep: timestep, encoderHiddenStates: hiddenStates,
                                            controlNetCond: condition, conditioningScale: scale, guessMode: guessMode)
            if let previous = sum {
                sum = (zip(previous.down, down).map { $0 + $1 }, previous.mid + mid)
            } else {
                sum = (down, mid)
            }
        }
        guard let sum, controlsConditionalHalfOnly else { return sum }
        // guess mode: zeros for the unconditional half
        let padded = { (residual: Tensor) in Tensor.concatenate([Tensor(zeros: residual.shape), residual], axis: 0) }
        return (sum.down.map(padded), padded(sum.mid))
    }
}
