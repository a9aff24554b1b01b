import Tensors

/// DDIM run backwards: from a clean latent towards noise, for inversion-based editing.
///
/// This implementation matches diffusers `DDIMInverseScheduler` (0.42.1,
/// `schedulers/scheduling_ddim_inverse.py`): ascending timesteps, and each step moves
/// from `t - train/steps` (or the initial alpha) up to `t`.
///
/// Limitations:
/// - Only `leading` and `trailing` spacing exist in diffusers; `linspace` is rejected too.
/// - The deprecated `set_alpha_to_zero` key is not read.
public struct DDIMInverseScheduler: AlphaScheduler {
    var state: AlphaSchedulerState
    private let initialAlphaCumprod: Float

    public init(config: SchedulerConfig) throws {
        state = AlphaSchedulerState(try SchedulerSetUp("DDIMInverseScheduler", config: config, rejecting: .thresholding))
        initialAlphaCumprod = state.finalAlphaCumprod(setAlphaToOneByDefault: true)
    }

    /// The DDIM layout, ascending.
    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let spacing = config.timestepSpacing ?? "leading"
        guard spacing == "leading" || spacing == "trailing" else {
            throw SchedulerError.unsupportedOption(scheduler: "DDIMInverseScheduler", key: "timestep_spacing", value: spacing)
        }
        try state.setTimesteps(numInferenceSteps)
        state.timesteps.reverse()
    }

    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        guard let steps = state.numInferenceSteps else {
            throw SchedulerError.timestepsNotSet(scheduler: "DDIMInverseScheduler")
        }
        // 1. the step goes from `from` (one interval below) up to `timestep`
        let target = Int(timestep)
        let from = min(target - schedule.count / steps, schedule.count - 1)
        // 2. compute alphas, betas
        let alphaProdT = schedule.alphaCumprod(at: from, fallback: initialAlphaCumprod)
        let alphaProdTNext = schedule.alphasCumprod[target]
        let betaProdT = 1 - alphaProdT
        // 3. compute predicted original sample and epsilon from the model output
        let predicted = try prediction.originalAndEpsilon(modelOutput, sample: sample,
                                                          alphaProdT: alphaProdT, betaProdT: betaProdT)
        var predOriginal = predicted.original
        let predEpsilon = predicted.epsilon
        // 4. clip "predicted x_0"
        if config.clipSample ?? true {
            predOriginal = predOriginal.clamped(to: Float(config.clipSampleRange ?? 1))
        }
        // 5. direction pointing to x_t and the next (noisier) sample, DDIM Eq. (12) with eta 0
        let direction = (1 - alphaProdTNext).squareRoot()
        let nextSample = try predOriginal.weighted(alphaProdTNext.squareRoot(), predEpsilon, direction)
        return SchedulerStepOutput(prevSample: nextSample, predOriginalSample: predOriginal)
    }
}
