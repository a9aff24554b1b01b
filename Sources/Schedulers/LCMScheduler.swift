import Tensors

/// Latent consistency models (Luo et al. 2023): each step predicts the clean sample through
/// the consistency boundary conditions, then (but at the last step) noises it back down to the
/// next timestep with fresh noise.
///
/// This implementation matches diffusers `LCMScheduler` (0.42.1, `schedulers/scheduling_lcm.py`)
/// as StableDiffusionImg2ImgPipeline runs it (`LCMScheduler.from_config(pipe.scheduler.config)`,
/// the way LCM-LoRA and LCM-merged checkpoints are used): `original_inference_steps`,
/// `timestep_scaling`, `c_skip` / `c_out`, and every step but the last drawing
/// `randn(sample.shape)` from the generator after the denoised sample is computed. The
/// denoised sample is the step's `predOriginalSample` (diffusers' `denoised`).
///
/// Limitations:
/// - `thresholding` is rejected; custom timestep lists and the `strength` argument of
///   `set_timesteps` (LatentConsistencyModelImg2ImgPipeline's, for guidance-embedding UNets,
///   which the Models module does not load) are not offered.
public struct LCMScheduler: ConsistencyScheduler {
    var state: AlphaSchedulerState
    var counter = StepCounter()
    private let timestepScaling: Float

    public init(config: SchedulerConfig) throws {
        state = AlphaSchedulerState(try SchedulerSetUp("LCMScheduler", config: config.withConsistencyBetaDefaults,
                                                       rejecting: .thresholding))
        timestepScaling = Float(config.timestepScaling ?? 10)
    }

    // Notation (LCM paper, Eq. 9 and Appendix D): c_skip(t) = sigma_data^2 / ((t s)^2 +
    // sigma_data^2), c_out(t) = t s / sqrt((t s)^2 + sigma_data^2), s = timestep_scaling,
    // sigma_data = 0.5; denoised = c_out * x0 + c_skip * x_t.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        // 1. the previous timestep: the next in the schedule, or this one after the last
        let (_, isLast, next) = try startStep(timestep)
        // 2. compute alphas, betas
        let alphaProdT = schedule.alphasCumprod[Int(timestep)]
        let alphaProdTPrev = schedule.alphasCumprod[Int(next ?? timestep)]
        // 3. the boundary-condition scalings
        let (cSkip, cOut) = boundaryScalings(timestep)
        // 4. compute the predicted original sample from the model output
        var predOriginal = try prediction.originalAndEpsilon(modelOutput, sample: sample, alphaProdT: alphaProdT,
                                                             betaProdT: 1 - alphaProdT).original
        if config.clipSample ?? false {
            predOriginal = predOriginal.clamped(to: Float(config.clipSampleRange ?? 1))
        }
        // 5. denoise with the consistency boundary conditions
        let denoised = try predOriginal.weighted(cOut, sample, cSkip)
        // 6. inject noise for multistep sampling, but not after the last step
        var prevSample = denoised
        if !isLast {
            let noise = generator.randn(modelOutput.shape)
            prevSample = try denoised.weighted(alphaProdTPrev.squareRoot(), noise, (1 - alphaProdTPrev).squareRoot())
        }
        counter.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: denoised)
    }

    /// `get_scalings_for_boundary_condition_discrete`, in float32 as torch computes it from
    /// the integer timestep tensor.
    func boundaryScalings(_ timestep: Double) -> (cSkip: Float, cOut: Float) {
        let sigmaDataSquared: Float = 0.25
        let scaled = Float(timestep) * timestepScaling
        let denominator = scaled * scaled + sigmaDataSquared
        return (sigmaDataSquared / denominator, scaled / denominator.squareRoot())
    }
}
