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
public struct EulerDiscreteScheduler: Scheduler {
    public let config: SchedulerConfig
    public private(set) var timesteps: [Double] = []
    public let order = 1
    public private(set) var initNoiseSigma: Float
    /// The noise levels of `timesteps`, plus the final one (float32, as diffusers).
    public private(set) var sigmas: [Float]
    /// Stochastic churn (Karras Algorithm 2); 0 = deterministic. With churn > 0 a step
    /// whose sigma lies in [sTmin, sTmax] draws `randn(sample.shape)`.
    public var sChurn: Float = 0
    public var sTmin: Float = 0
    public var sTmax: Float = .infinity
    public var sNoise: Float = 1

    let schedule: NoiseSchedule
    private let prediction: PredictionType
    private var stepIndex = StepIndex()

    public init(config: SchedulerConfig) throws {
        let name = "EulerDiscreteScheduler"
        try rejectEulerFamilyOptions(config, scheduler: name)
        if let interpolation = config.interpolationType, interpolation != "linear" {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "interpolation_type", value: interpolation)
        }
        if let type = config.timestepType, type != "discrete" {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "timestep_type", value: type)
        }
        self.config = config
        var schedule = try NoiseSchedule(config: config, scheduler: name)
        if config.rescaleBetasZeroSnr ?? false { schedule = schedule.withTerminalAlphaCumprod(0x1p-24) }
        self.schedule = schedule
        self.prediction = try PredictionType(config, scheduler: name)
        self.sigmas = schedule.sigmas.reversed() + [0]
        self.initNoiseSigma = 0
        self.initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let name = "EulerDiscreteScheduler"
        let train = schedule.count
        try validateStepCount(numInferenceSteps, trainTimesteps: train)
        var steps = try sigmaTimesteps(spacing: config.timestepSpacing ?? "linspace", count: numInferenceSteps,
                                       trainTimesteps: train, offset: config.stepsOffset ?? 0, scheduler: name)
        let trainSigmas = schedule.sigmas
        var stepSigmas = SigmaSchedule.interpolate(trainSigmas, at: steps)
        if config.useKarrasSigmas ?? false {
            stepSigmas = SigmaSchedule.karras(sigmaMin: config.sigmaMin ?? stepSigmas[stepSigmas.count - 1],
                                              sigmaMax: config.sigmaMax ?? stepSigmas[0], count: numInferenceSteps)
            let logSigmas = SigmaSchedule.logSigmas(trainSigmas)
            steps = stepSigmas.map { Double(Float(SigmaSchedule.timestep(for: $0, logSigmas: logSigmas))) }
        }
        let last = try finalSigma(config, trainSigmas: trainSigmas, scheduler: name)
        sigmas = stepSigmas.map { Float($0) } + [last]
        timesteps = steps
        initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
        stepIndex.reset()
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex.setBegin(index) }

    /// `sample / sqrt(sigma^2 + 1)`: the denoiser sees unit-variance input.
    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: "EulerDiscreteScheduler")
        let sigma = sigmas[index]
        return sample / (sigma * sigma + 1).squareRoot()
    }

    // Notation (Karras et al. 2022, Algorithm 2): sigma_hat = sigma * (gamma + 1),
    // derivative d = (x - x0) / sigma_hat, dt = sigma_next - sigma_hat.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: "EulerDiscreteScheduler")
        guard index + 1 < sigmas.count else { throw SchedulerError.stepPastEnd(scheduler: "EulerDiscreteScheduler", index: index) }
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
        let predOriginal = try eulerPredictedOriginal(prediction, modelOutput: modelOutput, sample: current,
                                                      sigma: sigma, sigmaHat: sigmaHat)
        // 3. convert to an ODE derivative and take the Euler step
        let dt = sigmas[index + 1] - sigmaHat
        let prevSample = try current.zipMap(predOriginal) { x, x0 in x + ((x - x0) / sigmaHat) * dt }
        stepIndex.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// `original + noise * sigma` at the sigma of `timestep` (or of the begin index).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.addNoiseIndex(for: timestep, in: timesteps, scheduler: "EulerDiscreteScheduler")
        let sigma = sigmas[index]
        return try original.zipMap(noise) { $0 + $1 * sigma }
    }

    private func noiseSigma(maxSigma: Float) -> Float {
        let spacing = config.timestepSpacing ?? "linspace"
        return spacing == "linspace" || spacing == "trailing" ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }
}

/// x0 from the model output in sigma space (Euler, Euler ancestral, LMS).
func eulerPredictedOriginal(_ prediction: PredictionType, modelOutput: Tensor, sample: Tensor,
                            sigma: Float, sigmaHat: Float) throws -> Tensor {
    switch prediction {
    case .epsilon:
        return try sample.zipMap(modelOutput) { $0 - sigmaHat * $1 }
    case .vPrediction:
        let c = -sigma / (sigma * sigma + 1).squareRoot()
        let d = sigma * sigma + 1
        return try modelOutput.zipMap(sample) { $0 * c + $1 / d }
    case .sample:
        return modelOutput
    }
}

/// Options the Euler-family schedulers here do not implement.
func rejectEulerFamilyOptions(_ config: SchedulerConfig, scheduler: String) throws {
    for (key, value) in [("use_exponential_sigmas", config.useExponentialSigmas), ("use_beta_sigmas", config.useBetaSigmas)]
    where value ?? false {
        throw SchedulerError.unsupportedOption(scheduler: scheduler, key: key, value: "true")
    }
}

/// The sigma appended after the last step: 0, or the smallest training sigma.
func finalSigma(_ config: SchedulerConfig, trainSigmas: [Float], scheduler: String) throws -> Float {
    switch config.finalSigmasType ?? "zero" {
    case "zero": return 0
    case "sigma_min": return trainSigmas[0]
    case let other: throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "final_sigmas_type", value: other)
    }
}

extension NoiseSchedule {
    /// A copy whose last `alphas_cumprod` is `value` (zero-terminal-SNR schedules set 2^-24
    /// so the last sigma stays finite).
    func withTerminalAlphaCumprod(_ value: Float) -> NoiseSchedule {
        var copy = self
        copy.setTerminalAlphaCumprod(value)
        return copy
    }
}
