import Tensors

/// Denoising diffusion implicit models (Song et al. 2020).
///
/// This implementation matches diffusers `DDIMScheduler` (0.42.1,
/// `schedulers/scheduling_ddim.py`), including its `set_timesteps` layouts, `eta`
/// noise and `add_noise`.
///
/// Limitations:
/// - `thresholding` (dynamic thresholding) is not implemented and is rejected.
/// - `variance_noise` cannot be passed in; with `eta > 0` noise comes from the generator.
public struct DDIMScheduler: AlphaScheduler {
    /// The weight of the stochastic term (0 = deterministic DDIM, 1 = DDPM-like), the
    /// pipelines' `eta`. With eta > 0 every `step` draws `randn(sample.shape)`.
    public var eta: Float
    /// diffusers' `use_clipped_model_output`: recompute epsilon from the clipped x0.
    public var useClippedModelOutput = false

    var state: AlphaSchedulerState
    private let finalAlphaCumprod: Float

    public init(config: SchedulerConfig, eta: Float = 0) throws {
        state = AlphaSchedulerState(try SchedulerSetUp("DDIMScheduler", config: config, rejecting: .thresholding))
        finalAlphaCumprod = state.finalAlphaCumprod(setAlphaToOneByDefault: true)
        self.eta = eta
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        try state.setTimesteps(numInferenceSteps)
    }

    // Notation (DDIM paper, Eq. 12):
    //   alpha_prod_t = alpha-bar_t, beta_prod_t = 1 - alpha-bar_t
    //   pred_original_sample = "predicted x_0", pred_sample_direction = "direction pointing to x_t"
    //   std_dev_t = sigma_t(eta)
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        guard let steps = state.numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: "DDIMScheduler") }
        // 1. get previous step value (= t - train / steps)
        let t = Int(timestep)
        let prevT = t - schedule.count / steps
        // 2. compute alphas, betas
        let alphaProdT = schedule.alphasCumprod[t]
        let alphaProdTPrev = schedule.alphaCumprod(at: prevT, fallback: finalAlphaCumprod)
        let betaProdT = 1 - alphaProdT
        // 3. compute predicted original sample and epsilon from the model output
        var (predOriginal, predEpsilon) = try prediction.originalAndEpsilon(modelOutput, sample: sample,
                                                                             alphaProdT: alphaProdT, betaProdT: betaProdT)
        // 4. clip "predicted x_0"
        if config.clipSample ?? true {
            predOriginal = predOriginal.clamped(to: Float(config.clipSampleRange ?? 1))
        }
        // 5. compute variance sigma_t(eta), Eq. (16)
        let variance = ((1 - alphaProdTPrev) / betaProdT) * (1 - alphaProdT / alphaProdTPrev)
        let stdDevT = eta * variance.squareRoot()
        if useClippedModelOutput {
            let a = alphaProdT.squareRoot(), b = betaProdT.squareRoot()
            predEpsilon = try sample.zipMap(predOriginal) { ($0 - a * $1) / b }
        }
        // 6. compute "direction pointing to x_t", Eq. (12)
        let directionWeight = (1 - alphaProdTPrev - stdDevT * stdDevT).squareRoot()
        // 7. compute x_t-1 without the random noise, Eq. (12)
        var prevSample = try predOriginal.weighted(alphaProdTPrev.squareRoot(), predEpsilon, directionWeight)
        // 8. add noise sigma_t * z
        if eta > 0 {
            let noise = generator.randn(modelOutput.shape)
            prevSample = try prevSample.zipMap(noise) { $0 + stdDevT * $1 }
        }
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }
}
