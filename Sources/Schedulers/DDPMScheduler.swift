import Foundation
import Tensors

/// Denoising diffusion probabilistic models (Ho et al. 2020), ancestral sampling.
///
/// This implementation matches diffusers `DDPMScheduler` (0.42.1,
/// `schedulers/scheduling_ddpm.py`). Every step except the one at t = 0 draws
/// `randn(sample.shape)` from the generator, as diffusers does.
///
/// Limitations:
/// - `variance_type` `learned` / `learned_range` (models that predict their variance),
///   `fixed_large_log` (diffusers takes the square root of a negative log there: NaN) and
///   `thresholding` are rejected; custom timestep lists are not supported.
public struct DDPMScheduler: AlphaScheduler {
    var state: AlphaSchedulerState
    private let varianceType: String

    public init(config: SchedulerConfig) throws {
        state = AlphaSchedulerState(try SchedulerSetUp("DDPMScheduler", config: config, rejecting: .thresholding))
        let variance = config.varianceType ?? "fixed_small"
        guard ["fixed_small", "fixed_small_log", "fixed_large"].contains(variance) else {
            throw SchedulerError.unsupportedOption(scheduler: "DDPMScheduler", key: "variance_type", value: variance)
        }
        self.varianceType = variance
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        try state.setTimesteps(numInferenceSteps)
    }

    // Notation (DDPM paper, Eq. 6-7): alpha_prod_t = alpha-bar_t, current_beta_t = beta_t,
    // pred_original_sample = x_0 estimate, pred_prev_sample = mu-tilde_t(x_t, x_0).
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        guard !timesteps.isEmpty else { throw SchedulerError.timestepsNotSet(scheduler: "DDPMScheduler") }
        // 1. compute alphas, betas (the previous timestep is the next entry of the schedule)
        let t = Int(timestep)
        let prevT = try previousTimestep(timestep)
        let alphaProdT = schedule.alphasCumprod[t]
        let alphaProdTPrev = schedule.alphaCumprod(at: prevT, fallback: 1)
        let betaProdT = 1 - alphaProdT
        let betaProdTPrev = 1 - alphaProdTPrev
        let currentAlphaT = alphaProdT / alphaProdTPrev
        let currentBetaT = 1 - currentAlphaT
        // 2. compute predicted original sample from predicted noise, Eq. (15)
        var predOriginal: Tensor
        switch prediction {
        case .epsilon:
            let a = alphaProdT.squareRoot(), b = betaProdT.squareRoot()
            predOriginal = try sample.zipMap(modelOutput) { ($0 - b * $1) / a }
        case .sample:
            predOriginal = modelOutput
        case .vPrediction:
            predOriginal = try sample.weighted(alphaProdT.squareRoot(), modelOutput, -betaProdT.squareRoot())
        }
        // 3. clip predicted x_0
        if config.clipSample ?? true {
            predOriginal = predOriginal.clamped(to: Float(config.clipSampleRange ?? 1))
        }
        // 4. coefficients for pred_original_sample x_0 and current sample x_t, Eq. (7)
        let originalCoefficient = (alphaProdTPrev.squareRoot() * currentBetaT) / betaProdT
        let sampleCoefficient = currentAlphaT.squareRoot() * betaProdTPrev / betaProdT
        // 5. compute predicted previous sample mu-tilde_t
        var prevSample = try predOriginal.weighted(originalCoefficient, sample, sampleCoefficient)
        // 6. add noise
        if t > 0 {
            let noise = generator.randn(modelOutput.shape)
            let scale = noiseScale(alphaProdT: alphaProdT, alphaProdTPrev: alphaProdTPrev)
            prevSample = try prevSample.zipMap(noise) { $0 + scale * $1 }
        }
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// diffusers' `previous_timestep`: the next entry of the schedule, or -1 after the last.
    private func previousTimestep(_ timestep: Double) throws -> Int {
        guard let index = timesteps.firstIndex(of: timestep) else {
            throw SchedulerError.timestepNotInSchedule(scheduler: "DDPMScheduler", timestep: timestep)
        }
        return index == timesteps.count - 1 ? -1 : Int(timesteps[index + 1])
    }

    /// The factor on the unit noise: the square root of `_get_variance`.
    private func noiseScale(alphaProdT: Float, alphaProdTPrev: Float) -> Float {
        let currentBetaT = 1 - alphaProdT / alphaProdTPrev
        let variance = max((1 - alphaProdTPrev) / (1 - alphaProdT) * currentBetaT, 1e-20)
        switch varianceType {
        case "fixed_small_log":
            // diffusers multiplies the noise by exp(0.5 * log(variance)) without a square root.
            return Float(exp(0.5 * log(Double(variance))))
        case "fixed_large":
            return currentBetaT.squareRoot()
        default:
            return variance.squareRoot()
        }
    }
}
