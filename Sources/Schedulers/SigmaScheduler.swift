import Tensors

/// The sigma-schedule family: Euler, Euler ancestral, LMS and DPM-Solver multistep.
///
/// They walk `sigmas` (the noise level of each timestep, then a final one), find their place
/// with diffusers' `_step_index` / `_begin_index`, and build timesteps and sigmas from the
/// training sigmas. The shared steps are this protocol's extension, in k-diffusion's form
/// (x = x0 + sigma * noise, the denoiser fed x / sqrt(sigma^2 + 1)) that Euler, Euler
/// ancestral and LMS use whole; DPM-Solver, which works on x_t = alpha_t * x0 + sigma_t * noise,
/// keeps its own `initNoiseSigma`, `scaleModelInput`, `addNoise` and timestep layout.
protocol SigmaScheduler: Scheduler {
    var state: SigmaSchedulerState { get set }
}

/// What every sigma-family scheduler holds between calls, in diffusers' words.
struct SigmaSchedulerState: Sendable {
    let setUp: SchedulerSetUp
    /// The inference timesteps (float32 values, as diffusers).
    private(set) var timesteps: [Double] = []
    /// The noise levels of `timesteps`, then the final one (float32, as diffusers).
    var sigmas: [Float]
    /// The position in `sigmas`.
    private(set) var counter = StepCounter()

    /// With `rescale_betas_zero_snr`, the last alphas_cumprod is set to 2^-24 so the last
    /// sigma stays finite, as diffusers' Euler and DPM-Solver do; until `setTimesteps` the
    /// sigmas are the training sigmas descending, then 0.
    init(_ setUp: SchedulerSetUp) {
        var setUp = setUp
        if setUp.config.rescaleBetasZeroSnr ?? false { setUp.schedule.setTerminalAlphaCumprod(0x1p-24) }
        self.setUp = setUp
        self.sigmas = setUp.schedule.sigmas.reversed() + [0]
    }

    /// `set_timesteps` of Euler, Euler ancestral and LMS: `count` timesteps by
    /// `timestep_spacing` (default `linspace`), their sigmas interpolated from the training
    /// sigmas; with `karras`, Karras et al.'s sigmas between its ends (the interpolated ends
    /// where it gives none) and the fractional timesteps they map back to; then `finalSigma`.
    mutating func setTimesteps(_ count: Int, karras: (sigmaMin: Double?, sigmaMax: Double?)? = nil,
                               finalSigma: Float = 0) throws {
        // float32 values, as diffusers' sigma schedulers keep their timesteps
        var steps = try setUp.spacedTimesteps(count, defaultSpacing: "linspace", roundsLinspace: false)
            .map { Double(Float($0)) }
        let trainSigmas = setUp.schedule.sigmas
        var stepSigmas = SigmaSchedule.interpolate(trainSigmas, at: steps)
        if let karras {
            stepSigmas = SigmaSchedule.karras(sigmaMin: karras.sigmaMin ?? stepSigmas[stepSigmas.count - 1],
                                              sigmaMax: karras.sigmaMax ?? stepSigmas[0], count: count)
            let logSigmas = SigmaSchedule.logSigmas(trainSigmas)
            steps = stepSigmas.map { Double(Float(SigmaSchedule.timestep(for: $0, logSigmas: logSigmas))) }
        }
        reset(timesteps: steps, sigmas: stepSigmas.map { Float($0) } + [finalSigma])
    }

    /// Installs a new schedule and forgets the step counter.
    mutating func reset(timesteps: [Double], sigmas: [Float]) {
        self.timesteps = timesteps
        self.sigmas = sigmas
        counter = StepCounter()
    }

    // MARK: - The step counter

    mutating func setBeginIndex(_ index: Int) { counter.setBeginIndex(index) }

    /// The position of the step at `timestep`, found on first use: the begin index if set,
    /// else the timestep's place.
    mutating func resolveStepIndex(_ timestep: Double, missingIsLast: Bool = false) throws -> Int {
        try counter.resolve(timestep, in: timesteps, scheduler: setUp.name, missingIsLast: missingIsLast)
    }

    /// `resolveStepIndex` for a `step`, which needs a next sigma to move to.
    mutating func resolveStep(_ timestep: Double, missingIsLast: Bool = false) throws -> Int {
        let index = try resolveStepIndex(timestep, missingIsLast: missingIsLast)
        guard index + 1 < sigmas.count else { throw SchedulerError.stepPastEnd(scheduler: setUp.name, index: index) }
        return index
    }

    mutating func advance() { counter.advance() }

    /// The sigma index `add_noise` uses: the begin index once set (or the current step),
    /// else the timestep's place in the schedule.
    func addNoiseIndex(for timestep: Double, missingIsLast: Bool = false) throws -> Int {
        guard counter.beginIndex != nil else {
            return try StepCounter.index(of: timestep, in: timesteps, scheduler: setUp.name, missingIsLast: missingIsLast)
        }
        return counter.stepIndex ?? counter.beginIndex ?? 0
    }
}

extension SigmaScheduler {
    public var config: SchedulerConfig { state.setUp.config }
    public var timesteps: [Double] { state.timesteps }
    /// The noise levels of `timesteps`, then the final one (float32, as diffusers).
    var sigmas: [Float] { state.sigmas }
    var schedule: NoiseSchedule { state.setUp.schedule }
    var prediction: PredictionType { state.setUp.prediction }

    /// The largest sigma, or sqrt(max^2 + 1) for `leading` spacing (diffusers' `init_noise_sigma`).
    public var initNoiseSigma: Float {
        let maxSigma = sigmas.max() ?? 0
        let spacing = config.timestepSpacing ?? "linspace"
        return spacing == "linspace" || spacing == "trailing" ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }

    public mutating func setBeginIndex(_ index: Int) { state.setBeginIndex(index) }

    /// `sample / sqrt(sigma^2 + 1)`: the denoiser sees unit-variance input.
    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor {
        let sigma = sigmas[try state.resolveStepIndex(timestep)]
        return sample / (sigma * sigma + 1).squareRoot()
    }

    /// `original + noise * sigma` at the sigma of `timestep` (or of the begin index).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let sigma = sigmas[try state.addNoiseIndex(for: timestep)]
        return try original.zipMap(noise) { $0 + $1 * sigma }
    }

    /// x0 from the model output at noise level `sigma` in k-diffusion's form (Euler, Euler
    /// ancestral, LMS); Euler's churn raises the level the sample is at to `sigmaHat`.
    func predictedOriginal(_ modelOutput: Tensor, sample: Tensor, sigma: Float, sigmaHat: Float? = nil) throws -> Tensor {
        switch prediction {
        case .epsilon:
            let sigmaHat = sigmaHat ?? sigma
            return try sample.zipMap(modelOutput) { $0 - sigmaHat * $1 }
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot()
            let d = sigma * sigma + 1
            return try modelOutput.zipMap(sample) { $0 * c + $1 / d }
        case .sample:
            return modelOutput
        }
    }

    /// The start of an unchurned step at `timestep` (Euler ancestral, LMS): its index, its
    /// sigma, and the predicted original sample (x_0) from the sigma-scaled predicted noise.
    mutating func startStep(_ timestep: Double, modelOutput: Tensor,
                            sample: Tensor) throws -> (index: Int, sigma: Float, predOriginal: Tensor) {
        let index = try state.resolveStep(timestep)
        let sigma = sigmas[index]
        return (index, sigma, try predictedOriginal(modelOutput, sample: sample, sigma: sigma))
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
