import Tensors

/// Trajectory consistency distillation (Zheng et al. 2024): each step predicts the clean
/// sample and the noise, moves to an intermediate timestep s = floor((1 - gamma) * t_prev)
/// along the trajectory, and (with gamma > 0, but for the last step) re-noises from s to
/// t_prev with fresh noise.
///
/// This implementation matches diffusers `TCDScheduler` (0.42.1, `schedulers/scheduling_tcd.py`)
/// as StableDiffusionImg2ImgPipeline runs it, the pipeline's `eta` passed to `step` as gamma.
/// Every step but the last draws `randn(sample.shape)` when gamma > 0. diffusers returns no
/// clean-sample estimate (its second output is the sample at s), so `predOriginalSample` is nil.
///
/// Limitations:
/// - `thresholding` is rejected; custom timestep lists and the `strength` argument of
///   `set_timesteps` are not offered (see `LCMScheduler`).
public struct TCDScheduler: ConsistencyScheduler {
    /// The stochasticity (diffusers' `eta` argument of `step`), in 0...1: 0 is deterministic,
    /// 1 a multistep consistency sampler like LCM; 0.3, diffusers' default, is what the TCD
    /// authors recommend.
    public let gamma: Float

    var state: AlphaSchedulerState
    var counter = StepCounter()

    public init(config: SchedulerConfig, gamma: Float = 0.3) throws {
        guard (0...1).contains(gamma) else {
            throw SchedulerError.unsupportedOption(scheduler: "TCDScheduler", key: "eta (gamma)", value: "\(gamma)")
        }
        state = AlphaSchedulerState(try SchedulerSetUp("TCDScheduler", config: config.withConsistencyBetaDefaults,
                                                       rejecting: .thresholding))
        self.gamma = gamma
    }

    // Notation (TCD paper, Algorithm 4): t the current timestep, t_prev the next one in the
    // schedule (0 after the last), s = floor((1 - gamma) * t_prev); pred_noised_sample = x_s.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        // 1. the previous timestep and the intermediate one, in float32 as torch multiplies them
        let (_, isLast, next) = try startStep(timestep)
        let prevT = Int(next ?? 0)
        let s = Int(((1 - gamma) * Float(prevT)).rounded(.down))
        // 2. compute alphas, betas
        let alphaProdT = schedule.alphasCumprod[Int(timestep)]
        let alphaProdTPrev = schedule.alphasCumprod[prevT]
        let alphaProdS = schedule.alphasCumprod[s]
        // 3. the predicted original sample and noise, then the sample at s
        let (predOriginal, predEpsilon) = try prediction.originalAndEpsilon(
            modelOutput, sample: sample, alphaProdT: alphaProdT, betaProdT: 1 - alphaProdT)
        let predNoised = try predOriginal.weighted(alphaProdS.squareRoot(), predEpsilon, (1 - alphaProdS).squareRoot())
        // 4. sample and inject noise from s up to t_prev, but not after the last step
        var prevSample = predNoised
        if gamma > 0 && !isLast {
            let noise = generator.randn(modelOutput.shape)
            let ratio = alphaProdTPrev / alphaProdS
            prevSample = try predNoised.weighted(ratio.squareRoot(), noise, (1 - ratio).squareRoot())
        }
        counter.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: nil)
    }
}
