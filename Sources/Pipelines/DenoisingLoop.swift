import Foundation
import Models
import Schedulers
import Tensors

/// What the UNet (and the ControlNets beside it) are conditioned on besides the noisy sample
/// and the timestep. A model family with more conditioning adds it here, and the loop passes
/// it through untouched.
struct UNetConditioning {
    /// `[2, 77 * chunks, d]` (negative, positive) with guidance, `[1, 77 * chunks, d]` without.
    var encoderHiddenStates: Tensor
    /// The UNet's class label for every batch entry, for UNets with a class embedding (the x4
    /// upscaler's noise level).
    var classLabel: Int?
    /// SDXL's pooled text embeddings and time ids, batched as `encoderHiddenStates` is.
    var addedConditions: AddedConditions?
    /// `timestep_cond` `[1, time_cond_proj_dim]`: the guidance scale as a UNet with a guidance
    /// embedding takes it, in place of classifier-free guidance (`StableDiffusion.embeddingGuidance`).
    var guidanceEmbedding: Tensor?

    /// The positive half alone, for ControlNets in guess mode.
    var conditionalHalf: UNetConditioning {
        UNetConditioning(encoderHiddenStates: encoderHiddenStates.chunked(2, axis: 0)[1], classLabel: classLabel,
                         addedConditions: addedConditions?.batchEntries(1 ..< 2), guidanceEmbedding: guidanceEmbedding)
    }
}

/// The ControlNets of a pipeline with their maps at the working size: entries of diffusers'
/// MultiControlNetModel, whose residuals are summed in order.
struct ControlNets {
    let controls: [ControlInput]
    /// One `[1, 3, H, W]` control map per control, in 0...1.
    let maps: [Tensor]
    /// diffusers' guess mode, on exactly when diffusers turns it on: for a first ControlNet
    /// with `global_pool_conditions`. With guidance the ControlNets then see only the
    /// conditional half, and the unconditional half gets no residuals.
    let guessMode: Bool

    /// No ControlNets: the UNet gets no residuals.
    static let none = ControlNets(controls: [], maps: [], guessMode: false)

    private init(controls: [ControlInput], maps: [Tensor], guessMode: Bool) {
        self.controls = controls
        self.maps = maps
        self.guessMode = guessMode
    }

    /// `controls` with their maps resized to `width` x `height` (the working size).
    init(_ controls: [ControlInput], width: Int, height: Int) {
        self.init(controls: controls, maps: controls.map { $0.conditionTensor(width: width, height: height) },
                  guessMode: controls.first?.model.config.globalPoolConditions ?? false)
    }
}

/// The denoising loop every Stable Diffusion pipeline shares: classifier-free guidance, the
/// ControlNets' residuals (none, one or several, each in its guidance window), extra UNet
/// input channels (the inpainting mask and masked-image latents, the x4 upscaler's noised
/// low-res image), and a hook after each step (latent blending for 4-channel inpainting).
struct DenoisingLoop {
    let unet: UNet2DConditionModel
    let conditioning: UNetConditioning
    let guidanceScale: Float
    let usesGuidance: Bool
    var controlNets = ControlNets.none
    /// Concatenated after the scaled latents along channels (batch 1; duplicated for guidance),
    /// for the UNet only: the ControlNets see the latents alone, as diffusers' ControlNet
    /// inpaint pipeline feeds them.
    var extraChannels: Tensor?

    init(unet: UNet2DConditionModel, conditioning: UNetConditioning, guidanceScale: Float, usesGuidance: Bool) {
        self.unet = unet
        self.conditioning = conditioning
        self.guidanceScale = guidanceScale
        self.usesGuidance = usesGuidance
    }

    /// The loop of `options`' guidance, conditioned on `encoderHiddenStates` alone.
    init(unet: UNet2DConditionModel, encoderHiddenStates: Tensor, options: GenerationOptions) {
        self.init(unet: unet, conditioning: UNetConditioning(encoderHiddenStates: encoderHiddenStates), options: options)
    }

    /// The loop of `options`' guidance with `conditioning`.
    init(unet: UNet2DConditionModel, conditioning: UNetConditioning, options: GenerationOptions) {
        self.init(unet: unet, conditioning: conditioning, guidanceScale: options.guidanceScale,
                  usesGuidance: options.usesGuidance)
    }

    private var controlsConditionalHalfOnly: Bool { controlNets.guessMode && usesGuidance }

    /// Runs `timesteps` from `latents`; `afterStep(i, latents, scheduler)` may replace the
    /// latents (the scheduler as it is after step i, for `addNoise`).
    // latents: [1, 4, h, w] -> [1, 4, h, w]
    func run(_ latents: Tensor, timesteps: [Double], scheduler: inout any Scheduler,
             generator: inout TorchGenerator, progress: StepCallback?,
             afterStep: (Int, Tensor, any Scheduler) throws -> Tensor = { _, latents, _ in latents }) throws -> Tensor {
        var latents = latents
        let batchedExtraChannels = extraChannels.map { usesGuidance ? Tensor.concatenate([$0, $0], axis: 0) : $0 }
        // prepare_control_image duplicates the map for guidance (unless in guess mode)
        let batchedMaps = controlNets.maps.map {
            usesGuidance && !controlsConditionalHalfOnly ? Tensor.concatenate([$0, $0], axis: 0) : $0
        }
        for (index, timestep) in timesteps.enumerated() {
            if let progress, !progress(index, timesteps.count) { throw PipelinesError.cancelled(step: index) }
            let scales = controlNets.controls.map { $0.effectiveScale(step: index, of: timesteps.count) }
            let noisePrediction = try predictNoise(latents, timestep: timestep, scheduler: &scheduler,
                                                   extraChannels: batchedExtraChannels, maps: batchedMaps,
                                                   scales: scales)
            latents = try scheduler.step(modelOutput: noisePrediction, timestep: timestep, sample: latents,
                                         generator: &generator).prevSample
            latents = try afterStep(index, latents, scheduler)
        }
        return latents
    }

    /// The guided noise prediction `uncond + scale * (text - uncond)` from one batched call,
    /// with the ControlNets' residuals.
    private func predictNoise(_ latents: Tensor, timestep: Double, scheduler: inout any Scheduler,
                              extraChannels: Tensor?, maps: [Tensor], scales: [Float]) throws -> Tensor {
        // diffusers scales `cat([latents] * 2)`; scaling is elementwise, so scale once, then stack
        let scaled = try scheduler.scaleModelInput(latents, timestep: timestep)
        let input = usesGuidance ? Tensor.concatenate([scaled, scaled], axis: 0) : scaled
        let residuals = controlResiduals(controlInput: controlsConditionalHalfOnly ? scaled : input,
                                         timestep: Float(timestep), maps: maps, scales: scales)
        let unetInput = extraChannels.map { Tensor.concatenate([input, $0], axis: 1) } ?? input
        let output = unet(sample: unetInput, timestep: Float(timestep), conditioning: conditioning, residuals: residuals)
        guard usesGuidance else { return output }
        let halves = output.chunked(2, axis: 0)
        return halves[0] + guidanceScale * (halves[1] - halves[0])
    }

    /// MultiControlNetModel's sum of residuals. A control outside its window (scale 0) would
    /// add only zeros, so it is not run; with none left the UNet gets no residuals, which
    /// equals adding zeros.
    // controlInput: [B, 4, h, w] -> down: one [2, C_i, h_i, w_i] per skip, mid: [2, C, h', w'] (B 1 without guidance)
    private func controlResiduals(controlInput: Tensor, timestep: Float, maps: [Tensor],
                                  scales: [Float]) -> ControlResiduals? {
        let controlConditioning = controlsConditionalHalfOnly ? conditioning.conditionalHalf : conditioning
        var sum: ControlResiduals?
        for (control, (map, scale)) in zip(controlNets.controls, zip(maps, scales)) where scale != 0 {
            let (down, mid) = control.model(sample: controlInput, timestep: timestep,
                                            encoderHiddenStates: controlConditioning.encoderHiddenStates,
                                            controlNetCond: map, conditioningScale: scale,
                                            guessMode: controlNets.guessMode,
                                            addedConditions: controlConditioning.addedConditions)
            if let previous = sum {
                sum = ControlResiduals(down: zip(previous.down, down).map { $0 + $1 }, mid: previous.mid + mid)
            } else {
                sum = ControlResiduals(down: down, mid: mid)
            }
        }
        guard let sum, controlsConditionalHalfOnly else { return sum }
        // guess mode: zeros for the unconditional half
        let padded = { (residual: Tensor) in Tensor.concatenate([Tensor(zeros: residual.shape), residual], axis: 0) }
        return ControlResiduals(down: sum.down.map(padded), mid: padded(sum.mid))
    }
}

/// What the ControlNets add to the UNet's skip connections and mid block.
struct ControlResiduals {
    var down: [Tensor]
    var mid: Tensor
}

extension UNet2DConditionModel {
    /// The UNet on `sample` with everything `conditioning` holds (the class label repeated for
    /// every batch entry, the guidance embedding as `timestep_cond`) and the ControlNets' residuals.
    func callAsFunction(sample: Tensor, timestep: Float, conditioning: UNetConditioning,
                        residuals: ControlResiduals?) -> Tensor {
        self(sample: sample, timestep: timestep, encoderHiddenStates: conditioning.encoderHiddenStates,
             timestepCond: conditioning.guidanceEmbedding, classLabels: conditioning.classLabel.map { Array(repeating: $0, count: sample.shape[0]) },
             addedConditions: conditioning.addedConditions,
             downBlockAdditionalResiduals: residuals?.down, midBlockAdditionalResidual: residuals?.mid)
    }
}
