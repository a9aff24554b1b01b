import Foundation
import Models
import Schedulers
import Tensors

/// The denoising loop every Stable Diffusion pipeline shares: classifier-free guidance,
/// optional extra UNet input channels (the inpainting mask and masked-image latents, the x4
/// upscaler's noised low-res image), an optional class label (the x4 upscaler's noise level),
/// and a hook after each step (latent blending for 4-channel inpainting).
struct DenoisingLoop {
    let unet: UNet2DConditionModel
    /// `[2, 77, d]` (negative, positive) with guidance, `[1, 77, d]` without.
    let encoderHiddenStates: Tensor
    let guidanceScale: Float
    let usesGuidance: Bool
    /// Concatenated after the scaled latents along channels (batch 1; duplicated for guidance).
    var extraChannels: Tensor?
    /// The UNet's class label for every batch entry, for UNets with a class embedding.
    var classLabel: Int?

    /// Runs `timesteps` from `latents`; `afterStep(i, latents, scheduler)` may replace the
    /// latents (the scheduler as it is after step i, for `addNoise`).
    // latents: [1, 4, h, w] -> [1, 4, h, w]
    func run(_ latents: Tensor, timesteps: [Double], scheduler: inout any Scheduler,
             generator: inout TorchGenerator, progress: StepCallback?,
             afterStep: (Int, Tensor, any Scheduler) throws -> Tensor = { _, latents, _ in latents }) throws -> Tensor {
        var latents = latents
        let conditioning = extraChannels.map { usesGuidance ? Tensor.concatenate([$0, $0], axis: 0) : $0 }
        for (index, timestep) in timesteps.enumerated() {
            if let progress, !progress(index, timesteps.count) { throw PipelinesError.cancelled(step: index) }
            let noisePrediction = try predictNoise(latents, timestep: timestep, scheduler: &scheduler,
                                                   conditioning: conditioning)
            latents = try scheduler.step(modelOutput: noisePrediction, timestep: timestep, sample: latents,
                                         generator: &generator).prevSample
            latents = try afterStep(index, latents, scheduler)
        }
        return latents
    }

    /// The guided noise prediction: `uncond + scale * (text - uncond)` from one batched call.
    private func predictNoise(_ latents: Tensor, timestep: Double, scheduler: inout any Scheduler,
                              conditioning: Tensor?) throws -> Tensor {
        // diffusers scales `cat([latents] * 2)`; scaling is elementwise, so scale once, then stack
        let scaled = try scheduler.scaleModelInput(latents, timestep: timestep)
        var input = usesGuidance ? Tensor.concatenate([scaled, scaled], axis: 0) : scaled
        if let conditioning { input = Tensor.concatenate([input, conditioning], axis: 1) }
        let output = unet(sample: input, timestep: Float(timestep), encoderHiddenStates: encoderHiddenStates,
                          classLabels: classLabel.map { Array(repeating: $0, count: input.shape[0]) })
        guard usesGuidance else { return output }
        let halves = output.chunked(2, axis: 0)
        return halves[0] + guidanceScale * (halves[1] - halves[0])
    }
}
