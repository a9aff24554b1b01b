import Tensors

/// Ancestral sampling with Euler steps: each step goes down to sigma_down deterministically
/// and adds fresh noise of size sigma_up (k-diffusion's `sample_euler_ancestral`).
///
/// This implementation matches diffusers `EulerAncestralDiscreteScheduler` (0.42.1,
/// `schedulers/scheduling_euler_ancestral_discrete.py`). Every step, the last included,
/// draws `randn(sample.shape)` from the generator after the deterministic update.
///
/// Limitations:
/// - `prediction_type: sample` is rejected (diffusers raises NotImplementedError).
public struct EulerAncestralDiscreteScheduler: Scheduler {
    public let config: SchedulerConfig
    public private(set) var timesteps: [Double] = []
    public let order = 1
    public private(set) var initNoiseSigma: Float
    /// The noise levels of `timesteps`, then 0 (float32, as diffusers).
    public private(set) var sigmas: [Float]

    let schedule: NoiseSchedule
    private let prediction: PredictionType
    private var stepIndex = StepIndex()

    public init(config: SchedulerConfig) throws {
        let name = "EulerAncestralDiscreteScheduler"
        self.config = config
        var schedule = try NoiseSchedule(config: config, scheduler: name)
        if config.rescaleBetasZeroSnr ?? false { schedule = schedule.withTerminalAlphaCumprod(0x1p-24) }
        self.schedule = schedule
        self.prediction = try PredictionType(config, scheduler: name, allowed: [.epsilon, .vPrediction])
        self.sigmas = schedule.sigmas.reversed() + [0]
        self.initNoiseSigma = 0
        self.initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let train = schedule.count
        try validateStepCount(numInferenceSteps, trainTimesteps: train)
        timesteps = try sigmaTimesteps(spacing: config.timestepSpacing ?? "linspace", count: numInferenceSteps,
                                       trainTimesteps: train, offset: config.stepsOffset ?? 0,
                                       scheduler: "EulerAncestralDiscreteScheduler")
        sigmas = SigmaSchedule.interpolate(schedule.sigmas, at: timesteps).map { Float($0) } + [0]
        initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
        stepIndex.reset()
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex.setBegin(index) }

    /// `sample / sqrt(sigma^2 + 1)`.
    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: "EulerAncestralDiscreteScheduler")
        let sigma = sigmas[index]
        return sample / (sigma * sigma + 1).squareRoot()
    }

    // Notation (k-diffusion `get_ancestral_step`): sigma_up^2 = sigma_to^2 (sigma_from^2 -
    // sigma_to^2) / sigma_from^2, sigma_down^2 = sigma_to^2 - sigma_up^2.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        let name = "EulerAncestralDiscreteScheduler"
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: name)
        guard index + 1 < sigmas.count else { throw SchedulerError.stepPastEnd(scheduler: name, index: index) }
        // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
        let sigma = sigmas[index]
        let predOriginal = try eulerPredictedOriginal(prediction, modelOutput: modelOutput, sample: sample,
                                                      sigma: sigma, sigmaHat: sigma)
        // 2. split the move to the next sigma into a deterministic and a noise part
        let sigmaTo = sigmas[index + 1]
        let sigmaUp = ((sigmaTo * sigmaTo) * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma)).squareRoot()
        let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
        // 3. Euler step to sigma_down
        let dt = sigmaDown - sigma
        let deterministic = try sample.zipMap(predOriginal) { x, x0 in x + ((x - x0) / sigma) * dt }
        // 4. add noise of size sigma_up
        let noise = generator.randn(modelOutput.shape)
        let prevSample = try deterministic.zipMap(noise) { $0 + $1 * sigmaUp }
        stepIndex.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// `original + noise * sigma` at the sigma of `timestep` (or of the begin index).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.addNoiseIndex(for: timestep, in: timesteps, scheduler: "EulerAncestralDiscreteScheduler")
        let sigma = sigmas[index]
        return try original.zipMap(noise) { $0 + $1 * sigma }
    }

    private func noiseSigma(maxSigma: Float) -> Float {
        let spacing = config.timestepSpacing ?? "linspace"
        return spacing == "linspace" || spacing == "trailing" ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }
}
