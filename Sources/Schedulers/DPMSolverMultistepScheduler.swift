import Foundation
import Tensors

/// DPM-Solver / DPM-Solver++ multistep (Lu et al. 2022), orders 1 to 3, ODE and SDE forms.
///
/// This implementation matches diffusers `DPMSolverMultistepScheduler` (0.42.1,
/// `schedulers/scheduling_dpmsolver_multistep.py`): `dpmsolver++` (the default, "DPM++ 2M"),
/// `sde-dpmsolver++`, and the deprecated `dpmsolver` / `sde-dpmsolver`; `midpoint` and
/// `heun` solver types; Karras sigmas ("DPM++ 2M Karras") and Lu lambdas;
/// `lower_order_final`, `euler_at_final`, `final_sigmas_type` and `lambda_min_clipped`.
/// The SDE variants draw `randn(sample.shape)` at every step, before the update.
///
/// Limitations:
/// - `thresholding`, exponential / beta / flow sigmas, dynamic shifting, learned variance
///   and custom timestep lists are rejected.
/// - Third order with `sde-dpmsolver` has no update rule in diffusers either; it is rejected.
public struct DPMSolverMultistepScheduler: SigmaScheduler {
    /// DPM-Solver works on x_t = alpha_t * x0 + sigma_t * noise: unit initial noise, and the
    /// model input is not scaled.
    public let initNoiseSigma: Float = 1

    private enum Algorithm: String { case dpmSolverPlusPlus = "dpmsolver++", sdeDpmSolverPlusPlus = "sde-dpmsolver++",
                                          dpmSolver = "dpmsolver", sdeDpmSolver = "sde-dpmsolver" }
    private static let name = "DPMSolverMultistepScheduler"

    var state: SigmaSchedulerState
    private let algorithm: Algorithm
    private let useHeun: Bool
    private let solverOrder: Int
    private let lambdas: [Float]
    private var modelOutputs: [Tensor] = []
    private var lowerOrderCount = 0

    public init(config: SchedulerConfig) throws {
        let name = Self.name
        var state = SigmaSchedulerState(try SchedulerSetUp(name, config: config,
                                                           rejecting: [.thresholding, .exponentialAndBetaSigmas]))
        // Until set_timesteps, diffusers' DPM-Solver holds the training sigmas ascending.
        state.sigmas = state.setUp.schedule.sigmas
        self.state = state
        let rawAlgorithm = config.algorithmType ?? "dpmsolver++"
        guard let algorithm = rawAlgorithm == "deis" ? .dpmSolverPlusPlus : Algorithm(rawValue: rawAlgorithm) else {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "algorithm_type", value: rawAlgorithm)
        }
        self.algorithm = algorithm
        let solverType = config.solverType ?? "midpoint"
        guard ["midpoint", "heun", "logrho", "bh1", "bh2"].contains(solverType) else {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "solver_type", value: solverType)
        }
        self.useHeun = solverType == "heun"
        let order = config.solverOrder ?? 2
        guard (1...3).contains(order), !(order == 3 && algorithm == .sdeDpmSolver) else {
            throw SchedulerError.unsupportedOption(scheduler: name, key: "solver_order", value: String(order))
        }
        self.solverOrder = order
        if (algorithm == .dpmSolver || algorithm == .sdeDpmSolver) && (config.finalSigmasType ?? "zero") == "zero" {
            // diffusers raises too: the final step would divide by a zero sigma.
            throw SchedulerError.unsupportedOption(scheduler: name, key: "final_sigmas_type", value: "zero with \(rawAlgorithm)")
        }
        self.lambdas = state.setUp.schedule.alphasCumprod.map { Float(log($0.squareRoot())) - Float(log((1 - $0).squareRoot())) }
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let train = schedule.count
        try validateStepCount(numInferenceSteps, trainTimesteps: train)
        var steps = try baseTimesteps(numInferenceSteps)
        let trainSigmas = schedule.sigmas
        let logSigmas = SigmaSchedule.logSigmas(trainSigmas)
        var stepSigmas: [Double]
        let roundsTimesteps = (config.betaSchedule ?? "linear") != "squaredcos_cap_v2"
        if config.useKarrasSigmas ?? false {
            stepSigmas = SigmaSchedule.karras(sigmaMin: Double(trainSigmas[0]), sigmaMax: Double(trainSigmas[train - 1]),
                                              count: numInferenceSteps)
            steps = Self.timesteps(for: stepSigmas, logSigmas: logSigmas, round: roundsTimesteps)
        } else if config.useLuLambdas ?? false {
            let lambdaMax = Double(logSigmas[train - 1]), lambdaMin = Double(logSigmas[0])
            stepSigmas = TimestepSpacing.numpyLinspace(0, 1, numInferenceSteps).map {
                exp(lambdaMax + $0 * (lambdaMin - lambdaMax))
            }
            steps = Self.timesteps(for: stepSigmas, logSigmas: logSigmas, round: roundsTimesteps)
        } else {
            stepSigmas = SigmaSchedule.interpolate(trainSigmas, at: steps)
        }
        let last = try finalSigma(config, trainSigmas: trainSigmas, scheduler: Self.name)
        state.reset(timesteps: steps.map { $0.rounded(.towardZero) }, sigmas: stepSigmas.map { Float($0) } + [last])
        modelOutputs = []
        lowerOrderCount = 0
    }

    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        guard !timesteps.isEmpty else { throw SchedulerError.timestepsNotSet(scheduler: Self.name) }
        let index = try state.resolveStep(timestep, missingIsLast: true)
        // 1. decide whether the last steps fall back to lower orders (stabler with few steps)
        let count = timesteps.count
        let fewSteps = (config.lowerOrderFinal ?? true) && count < 15
        let lowerOrderFinal = index == count - 1
            && ((config.eulerAtFinal ?? false) || fewSteps || (config.finalSigmasType ?? "zero") == "zero")
        let lowerOrderSecond = index == count - 2 && fewSteps
        // 2. convert the model output to what the solver integrates (x0 or epsilon) and remember it
        let converted = try convertModelOutput(modelOutput, sample: sample, sigma: sigmas[index])
        modelOutputs = Array((modelOutputs + [converted]).suffix(solverOrder))
        // 3. SDE variants draw their noise now
        let noise = algorithm == .sdeDpmSolverPlusPlus || algorithm == .sdeDpmSolver
            ? generator.randn(modelOutput.shape) : nil
        // 4. the multistep update of the order the history allows
        let prevSample: Tensor
        if solverOrder == 1 || lowerOrderCount < 1 || lowerOrderFinal {
            prevSample = try firstOrderUpdate(converted, sample: sample, noise: noise, index: index)
        } else if solverOrder == 2 || lowerOrderCount < 2 || lowerOrderSecond {
            prevSample = try secondOrderUpdate(sample: sample, noise: noise, index: index)
        } else {
            prevSample = try thirdOrderUpdate(sample: sample, noise: noise, index: index)
        }
        if lowerOrderCount < solverOrder { lowerOrderCount += 1 }
        state.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: nil)
    }

    /// `alpha_t * original + sigma_t * noise` at the sigma of `timestep` (or of the begin index).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let index = try state.addNoiseIndex(for: timestep, missingIsLast: true)
        let (alpha, sigma) = Self.alphaSigma(sigmas[index])
        return try original.weighted(alpha, noise, sigma)
    }

    // MARK: - Schedule

    /// The timesteps before any sigma conversion, for `timestep_spacing` and `lambda_min_clipped`.
    private func baseTimesteps(_ count: Int) throws -> [Double] {
        let train = schedule.count
        // searchsorted(flip(lambda_t), lambda_min_clipped): lambdas below the clip are cut off.
        let clipped = lambdas.reversed().filter { Double($0) < (config.lambdaMinClipped ?? -.infinity) }.count
        let lastTimestep = train - clipped
        switch config.timestepSpacing ?? "linspace" {
        case "linspace":
            return Array(TimestepSpacing.linspace(last: Double(lastTimestep - 1), count: count + 1).dropLast())
        case "leading":
            let ratio = lastTimestep / (count + 1)
            return (1...count).reversed().map { Double($0 * ratio + (config.stepsOffset ?? 0)) }
        case "trailing":
            return TimestepSpacing.trailing(from: lastTimestep, trainTimesteps: train, count: count)
        case let other:
            throw SchedulerError.unsupportedOption(scheduler: Self.name, key: "timestep_spacing", value: other)
        }
    }

    private static func timesteps(for sigmas: [Double], logSigmas: [Float], round: Bool) -> [Double] {
        sigmas.map {
            let t = SigmaSchedule.timestep(for: $0, logSigmas: logSigmas)
            return round ? t.rounded(.toNearestOrEven) : t
        }
    }

    /// `_sigma_to_alpha_sigma_t`: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t.
    private static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    /// lambda = log(alpha_t) - log(sigma_t), the half log-SNR the solver steps in.
    private static func lambda(_ alphaSigma: (alpha: Float, sigma: Float)) -> Float {
        Float(log(alphaSigma.alpha)) - Float(log(alphaSigma.sigma))
    }

    // MARK: - Solver

    /// `convert_model_output`: x0 for the ++ algorithms, epsilon for the others.
    private func convertModelOutput(_ modelOutput: Tensor, sample: Tensor, sigma: Float) throws -> Tensor {
        let (alpha, sigmaT) = Self.alphaSigma(sigma)
        switch (algorithm, prediction) {
        case (.dpmSolverPlusPlus, .epsilon), (.sdeDpmSolverPlusPlus, .epsilon):
            return try sample.zipMap(modelOutput) { ($0 - sigmaT * $1) / alpha }
        case (.dpmSolverPlusPlus, .vPrediction), (.sdeDpmSolverPlusPlus, .vPrediction):
            return try sample.weighted(alpha, modelOutput, -sigmaT)
        case (.dpmSolver, .sample), (.sdeDpmSolver, .sample):
            return try sample.zipMap(modelOutput) { ($0 - alpha * $1) / sigmaT }
        case (.dpmSolver, .vPrediction), (.sdeDpmSolver, .vPrediction):
            return try modelOutput.weighted(alpha, sample, sigmaT)
        default:
            return modelOutput
        }
    }

    /// The terms of one update: `sample` and model-output terms with their coefficients.
    private typealias Term = (coefficient: Float, tensor: Tensor)

    /// `sum(c_k * x_k)`, left to right, one rounding per torch operation.
    private static func combine(_ first: Term, _ rest: [Term]) throws -> Tensor {
        var result = first.coefficient * first.tensor
        for term in rest {
            let coefficient = term.coefficient
            result = try result.zipMap(term.tensor) { $0 + coefficient * $1 }
        }
        return result
    }

    /// The noise term of the SDE variants, appended when there is noise.
    private func noiseTerm(_ noise: Tensor?, sigmaT: Float, h: Float) -> [Term] {
        guard let noise else { return [] }
        let scale = algorithm == .sdeDpmSolverPlusPlus
            ? sigmaT * (1 - Float(exp(-2 * h))).squareRoot()
            : sigmaT * (Float(exp(2 * h)) - 1).squareRoot()
        return [(scale, noise)]
    }

    /// The coefficient on `sample` and on D0 of every update (DPM-Solver Eq. (3.7) and ++ Eq. (5)).
    private func baseCoefficients(alphaT: Float, sigmaT: Float, alphaS: Float, sigmaS: Float, h: Float) -> (sample: Float, d0: Float) {
        let expMinusH = Float(exp(-h)), expH = Float(exp(h))
        switch algorithm {
        case .dpmSolverPlusPlus:
            return (sigmaT / sigmaS, -(alphaT * (expMinusH - 1)))
        case .sdeDpmSolverPlusPlus:
            return (sigmaT / sigmaS * expMinusH, alphaT * (1 - Float(exp(-2 * h))))
        case .dpmSolver:
            return (alphaT / alphaS, -(sigmaT * (expH - 1)))
        case .sdeDpmSolver:
            return (alphaT / alphaS, -(2 * (sigmaT * (expH - 1))))
        }
    }

    private func firstOrderUpdate(_ modelOutput: Tensor, sample: Tensor, noise: Tensor?, index: Int) throws -> Tensor {
        let t = Self.alphaSigma(sigmas[index + 1]), s = Self.alphaSigma(sigmas[index])
        let h = Self.lambda(t) - Self.lambda(s)
        let c = baseCoefficients(alphaT: t.alpha, sigmaT: t.sigma, alphaS: s.alpha, sigmaS: s.sigma, h: h)
        return try Self.combine((c.sample, sample), [(c.d0, modelOutput)] + noiseTerm(noise, sigmaT: t.sigma, h: h))
    }

    private func secondOrderUpdate(sample: Tensor, noise: Tensor?, index: Int) throws -> Tensor {
        guard index >= 1, modelOutputs.count >= 2 else { throw SchedulerError.stepPastEnd(scheduler: Self.name, index: index) }
        let t = Self.alphaSigma(sigmas[index + 1]), s0 = Self.alphaSigma(sigmas[index]), s1 = Self.alphaSigma(sigmas[index - 1])
        let (m0, m1) = (modelOutputs[modelOutputs.count - 1], modelOutputs[modelOutputs.count - 2])
        let h = Self.lambda(t) - Self.lambda(s0), h0 = Self.lambda(s0) - Self.lambda(s1)
        let r0 = h0 / h
        let inverseR0 = 1 / r0
        let d1 = try m0.zipMap(m1) { inverseR0 * ($0 - $1) }
        let c = baseCoefficients(alphaT: t.alpha, sigmaT: t.sigma, alphaS: s0.alpha, sigmaS: s0.sigma, h: h)
        let expMinusH = Float(exp(-h)), expH = Float(exp(h)), expMinus2H = Float(exp(-2 * h))
        let d1Coefficient: Float
        switch (algorithm, useHeun) {
        case (.dpmSolverPlusPlus, false): d1Coefficient = -(0.5 * (t.alpha * (expMinusH - 1)))
        case (.dpmSolverPlusPlus, true): d1Coefficient = t.alpha * ((expMinusH - 1) / h + 1)
        case (.dpmSolver, false): d1Coefficient = -(0.5 * (t.sigma * (expH - 1)))
        case (.dpmSolver, true): d1Coefficient = -(t.sigma * ((expH - 1) / h - 1))
        case (.sdeDpmSolverPlusPlus, false): d1Coefficient = 0.5 * (t.alpha * (1 - expMinus2H))
        case (.sdeDpmSolverPlusPlus, true): d1Coefficient = t.alpha * ((1 - expMinus2H) / (-2 * h) + 1)
        case (.sdeDpmSolver, false): d1Coefficient = -(t.sigma * (expH - 1))
        case (.sdeDpmSolver, true): d1Coefficient = -(2 * (t.sigma * ((expH - 1) / h - 1)))
        }
        return try Self.combine((c.sample, sample), [(c.d0, m0), (d1Coefficient, d1)]
                                + noiseTerm(noise, sigmaT: t.sigma, h: h))
    }

    private func thirdOrderUpdate(sample: Tensor, noise: Tensor?, index: Int) throws -> Tensor {
        guard index >= 2, modelOutputs.count >= 3 else { throw SchedulerError.stepPastEnd(scheduler: Self.name, index: index) }
        let t = Self.alphaSigma(sigmas[index + 1]), s0 = Self.alphaSigma(sigmas[index])
        let s1 = Self.alphaSigma(sigmas[index - 1]), s2 = Self.alphaSigma(sigmas[index - 2])
        let count = modelOutputs.count
        let (m0, m1, m2) = (modelOutputs[count - 1], modelOutputs[count - 2], modelOutputs[count - 3])
        let h = Self.lambda(t) - Self.lambda(s0)
        let h0 = Self.lambda(s0) - Self.lambda(s1), h1 = Self.lambda(s1) - Self.lambda(s2)
        let r0 = h0 / h, r1 = h1 / h
        let (inverseR0, inverseR1) = (1 / r0, 1 / r1)
        let d10 = try m0.zipMap(m1) { inverseR0 * ($0 - $1) }
        let d11 = try m1.zipMap(m2) { inverseR1 * ($0 - $1) }
        let weight = r0 / (r0 + r1), inverseSum = 1 / (r0 + r1)
        let d1 = try d10.zipMap(d11) { $0 + weight * ($0 - $1) }
        let d2 = try d10.zipMap(d11) { inverseSum * ($0 - $1) }
        let c = baseCoefficients(alphaT: t.alpha, sigmaT: t.sigma, alphaS: s0.alpha, sigmaS: s0.sigma, h: h)
        let expMinusH = Float(exp(-h)), expH = Float(exp(h)), expMinus2H = Float(exp(-2 * h))
        let d1Coefficient: Float, d2Coefficient: Float
        switch algorithm {
        case .dpmSolverPlusPlus:
            d1Coefficient = t.alpha * ((expMinusH - 1) / h + 1)
            d2Coefficient = -(t.alpha * ((expMinusH - 1 + h) / (h * h) - 0.5))
        case .dpmSolver:
            d1Coefficient = -(t.sigma * ((expH - 1) / h - 1))
            d2Coefficient = -(t.sigma * ((expH - 1 - h) / (h * h) - 0.5))
        case .sdeDpmSolverPlusPlus:
            d1Coefficient = t.alpha * ((1 - expMinus2H) / (-2 * h) + 1)
            d2Coefficient = t.alpha * ((1 - expMinus2H - 2 * h) / ((2 * h) * (2 * h)) - 0.5)
        case .sdeDpmSolver:
            throw SchedulerError.unsupportedOption(scheduler: Self.name, key: "solver_order", value: "3 with sde-dpmsolver")
        }
        return try Self.combine((c.sample, sample), [(c.d0, m0), (d1Coefficient, d1), (d2Coefficient, d2)]
                                + noiseTerm(noise, sigmaT: t.sigma, h: h))
    }
}
