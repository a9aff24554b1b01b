import Tensors

/// Linear multistep (Adams-Bashforth in sigma space, up to 4th order) on the
/// probability-flow ODE (k-diffusion's `sample_lms`).
///
/// This implementation matches diffusers `LMSDiscreteScheduler` (0.42.1,
/// `schedulers/scheduling_lms_discrete.py`) with its default `order` of 4. diffusers
/// integrates each coefficient polynomial with `scipy.integrate.quad`; the polynomials have
/// degree at most 3, so 4-point Gauss-Legendre integrates them exactly here.
///
/// Limitations:
/// - Exponential and beta sigmas are rejected; the `order` argument of `step` is fixed at 4.
public struct LMSDiscreteScheduler: Scheduler {
    public let config: SchedulerConfig
    public private(set) var timesteps: [Double] = []
    public let order = 1
    public private(set) var initNoiseSigma: Float
    /// The noise levels of `timesteps`, then 0 (float32, as diffusers).
    public private(set) var sigmas: [Float]

    let schedule: NoiseSchedule
    private let prediction: PredictionType
    private var stepIndex = StepIndex()
    private var derivatives: [Tensor] = []
    private let maximumOrder = 4

    public init(config: SchedulerConfig) throws {
        let name = "LMSDiscreteScheduler"
        try rejectEulerFamilyOptions(config, scheduler: name)
        self.config = config
        self.schedule = try NoiseSchedule(config: config, scheduler: name, allowRescale: false)
        self.prediction = try PredictionType(config, scheduler: name)
        self.sigmas = schedule.sigmas.reversed() + [0]
        self.initNoiseSigma = 0
        self.initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let train = schedule.count
        try validateStepCount(numInferenceSteps, trainTimesteps: train)
        var steps = try sigmaTimesteps(spacing: config.timestepSpacing ?? "linspace", count: numInferenceSteps,
                                       trainTimesteps: train, offset: config.stepsOffset ?? 0,
                                       scheduler: "LMSDiscreteScheduler")
        let trainSigmas = schedule.sigmas
        var stepSigmas = SigmaSchedule.interpolate(trainSigmas, at: steps)
        if config.useKarrasSigmas ?? false {
            // LMS takes no sigma_min / sigma_max keys: the interpolated ends are used.
            stepSigmas = SigmaSchedule.karras(sigmaMin: stepSigmas[stepSigmas.count - 1], sigmaMax: stepSigmas[0],
                                              count: numInferenceSteps)
            let logSigmas = SigmaSchedule.logSigmas(trainSigmas)
            steps = stepSigmas.map { Double(Float(SigmaSchedule.timestep(for: $0, logSigmas: logSigmas))) }
        }
        sigmas = stepSigmas.map { Float($0) } + [0]
        timesteps = steps
        initNoiseSigma = noiseSigma(maxSigma: sigmas.max() ?? 0)
        stepIndex.reset()
        derivatives = []
    }

    public mutating func setBeginIndex(_ index: Int) { stepIndex.setBegin(index) }

    /// `sample / sqrt(sigma^2 + 1)`.
    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: "LMSDiscreteScheduler")
        let sigma = sigmas[index]
        return sample / (sigma * sigma + 1).squareRoot()
    }

    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        let name = "LMSDiscreteScheduler"
        let index = try stepIndex.resolve(timestep, in: timesteps, scheduler: name)
        guard index + 1 < sigmas.count else { throw SchedulerError.stepPastEnd(scheduler: name, index: index) }
        // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
        let sigma = sigmas[index]
        let predOriginal = try eulerPredictedOriginal(prediction, modelOutput: modelOutput, sample: sample,
                                                      sigma: sigma, sigmaHat: sigma)
        // 2. convert to an ODE derivative and keep the last `order` of them
        derivatives.append(try sample.zipMap(predOriginal) { ($0 - $1) / sigma })
        if derivatives.count > maximumOrder { derivatives.removeFirst() }
        // 3. compute the linear multistep coefficients
        let currentOrder = min(index + 1, maximumOrder)
        let coefficients = (0..<currentOrder).map { lmsCoefficient(order: currentOrder, index: index, term: $0) }
        // 4. compute previous sample from the derivatives' history
        var sum: Tensor?
        for (coefficient, derivative) in zip(coefficients, derivatives.reversed()) {
            let term = Float(coefficient) * derivative
            sum = try sum.map { try $0.adding(term) } ?? term
        }
        let prevSample = try sum.map { try sample.adding($0) } ?? sample
        stepIndex.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// `original + noise * sigma` at the sigma of `timestep` (or of the begin index).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let index = try stepIndex.addNoiseIndex(for: timestep, in: timesteps, scheduler: "LMSDiscreteScheduler")
        let sigma = sigmas[index]
        return try original.zipMap(noise) { $0 + $1 * sigma }
    }

    /// `get_lms_coefficient`: the integral from sigma_i to sigma_(i+1) of the Lagrange basis
    /// polynomial of term `term` over the last `order` sigmas.
    private func lmsCoefficient(order: Int, index: Int, term: Int) -> Double {
        func basis(_ tau: Double) -> Double {
            var product = 1.0
            for k in 0..<order where k != term {
                product *= (tau - Double(sigmas[index - k])) / Double(sigmas[index - term] - sigmas[index - k])
            }
            return product
        }
        let lower = Double(sigmas[index]), upper = Double(sigmas[index + 1])
        let half = (upper - lower) / 2, middle = (upper + lower) / 2
        // 4-point Gauss-Legendre nodes and weights: exact for polynomials of degree <= 7.
        let nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526]
        let weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538]
        return zip(nodes, weights).reduce(0) { $0 + $1.1 * basis(middle + half * $1.0) } * half
    }

    private func noiseSigma(maxSigma: Float) -> Float {
        let spacing = config.timestepSpacing ?? "linspace"
        return spacing == "linspace" || spacing == "trailing" ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }
}
