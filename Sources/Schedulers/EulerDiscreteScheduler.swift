import Tensors

/// Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, Algorithm 2).
///
/// This implementation matches diffusers `EulerDiscreteScheduler` (0.42.1,
/// `schedulers/scheduling_euler_discrete.py`), with linear sigma interpolation, optional
/// Karras sigmas, `final_sigmas_type` and the `s_churn` family of options.
///
/// Limitations:
/// - `interpolation_type: log_linear`, exponential / beta sigmas, `timestep_type:
///   continuous` and custom timestep or sigma lists are rejected.
public struct EulerDiscreteScheduler: SigmaScheduler {
    /// Stochastic churn (Karras Algorithm 2); 0 = deterministic. With churn > 0 a step
    /// whose sigma lies in [sTmin, sTmax] draws `randn(sample.shape)`.
    public var sChurn: Float = 0
    public var sTmin: Float = 0
    public var sTmax: Float = .infinity
    public var sNoise: Float = 1

    var state: SigmaSchedulerState

    public init(config: SchedulerConfig) throws {
        let name = "EulerDiscreteScheduler"
        if let interpolation = config.interpolationType, interpolation != "linear" {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "interpolation_type", value: interpolation)
        }
        if let type = config.timestepType, type != "discrete" {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "timestep_type", value: type)
        }
        state = SigmaSchedulerState(try SchedulerSetUp(name, config: config, rejecting: .exponentialAndBetaSigmas))
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let karras = (config.useKarrasSigmas ?? false) ? (sigmaMin: config.sigmaMin, sigmaMax: config.sigmaMax) : nil
        let last = try finalSigma(config, trainSigmas: schedule.sigmas, scheduler: state.setUp.name)
        try state.setTimesteps(numInferenceSteps, karras: karras, finalSigma: last)
    }

    // Notation (Karras et al. 2022, Algorithm 2): sigma_hat = sigma * (gamma + 1),
    // derivative d = (x - x0) / sigma_hat, dt = sigma_next - sigma_hat.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        let index = try state.resolveStep(timestep)
        // 1. churn: raise the noise level to sigma_hat, adding fresh noise
        let sigma = sigmas[index]
        let gamma: Float = sTmin <= sigma && sigma <= sTmax
            ? min(sChurn / Float(sigmas.count - 1), Float(2.0.squareRoot() - 1)) : 0
        let sigmaHat = sigma * (gamma + 1)
        var current = sample
        if gamma > 0 {
            let noise = generator.randn(modelOutput.shape)
            let scale = (sigmaHat * sigmaHat - sigma * sigma).squareRoot()
            let noiseFactor = sNoise
            current = try current.zipMap(noise) { $0 + ($1 * noiseFactor) * scale }
        }
        // 2. compute predicted original sample (x_0) from sigma-scaled predicted noise
        let predOriginal = try predictedOriginal(modelOutput, sample: current, sigma: sigma, sigmaHat: sigmaHat)
        // 3. convert to an ODE derivative and take the Euler step
        let dt = sigmas[index + 1] - sigmaHat
        let prevSample = try current.zipMap(predOriginal) { x, x0 in x + ((x - x0) / sigmaHat) * dt }
        state.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }
}
