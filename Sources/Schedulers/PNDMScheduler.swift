import Tensors

/// Pseudo numerical methods for diffusion models (Liu et al. 2022): Runge-Kutta warm-up
/// (PRK) followed by linear multistep (PLMS).
///
/// This implementation matches diffusers `PNDMScheduler` (0.42.1,
/// `schedulers/scheduling_pndm.py`), with and without `skip_prk_steps` (Stable Diffusion
/// sets it true). With `skip_prk_steps` the second timestep appears twice: the first PLMS
/// step is a two-evaluation Heun-like warm-up, as in diffusers.
///
/// Limitations:
/// - `prediction_type` `sample` is rejected (diffusers rejects it at the first step).
public struct PNDMScheduler: AlphaScheduler {
    var state: AlphaSchedulerState
    private let finalAlphaCumprod: Float
    private let skipPrkSteps: Bool
    private var prkTimesteps: [Int] = []
    // Multistep state: past model outputs (`ets`), the step counter, and the sample and
    // the weighted model output carried between the sub-steps of one warm-up step.
    private var ets: [Tensor] = []
    private var counter = 0
    private var currentSample: Tensor?
    private var currentModelOutput: Tensor?

    public init(config: SchedulerConfig) throws {
        state = AlphaSchedulerState(try SchedulerSetUp("PNDMScheduler", config: config, predictions: [.epsilon, .vPrediction],
                                                       allowsZeroTerminalSNR: false))
        finalAlphaCumprod = state.finalAlphaCumprod(setAlphaToOneByDefault: false)
        skipPrkSteps = config.skipPrkSteps ?? false
    }

    /// The leading layout, rearranged into Runge-Kutta warm-up timesteps (unless
    /// `skip_prk_steps`) and linear multistep ones.
    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        let train = schedule.count
        try state.setTimesteps(numInferenceSteps)
        let ascending = state.timesteps.reversed().map { Int($0) }
        let plms: [Int]
        if skipPrkSteps {
            prkTimesteps = []
            plms = Array(ascending.dropLast()) + Array(ascending.suffix(2))
        } else {
            guard ascending.count >= 4 else {
                throw SchedulerError.unsupportedOption(scheduler: "PNDMScheduler", key: "num_inference_steps (with PRK steps)",
                                                       value: String(numInferenceSteps))
            }
            let half = train / numInferenceSteps / 2
            let pairs = ascending.suffix(4).flatMap { [$0, $0 + half] }
            let doubled = pairs.dropLast().flatMap { [$0, $0] }
            prkTimesteps = Array(doubled.dropFirst().dropLast().reversed())
            plms = Array(ascending.dropLast(3))
        }
        state.timesteps = (prkTimesteps + plms.reversed()).map { Double($0) }
        ets = []
        counter = 0
        currentSample = nil
        currentModelOutput = nil
    }

    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        guard let steps = state.numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: "PNDMScheduler") }
        let prevSample = counter < prkTimesteps.count && !skipPrkSteps
            ? try stepRungeKutta(modelOutput: modelOutput, timestep: Int(timestep), sample: sample, steps: steps)
            : try stepLinearMultistep(modelOutput: modelOutput, timestep: Int(timestep), sample: sample, steps: steps)
        counter += 1
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: nil)
    }

    /// One of the four sub-steps of a 4th-order Runge-Kutta step (`step_prk`).
    private mutating func stepRungeKutta(modelOutput: Tensor, timestep: Int, sample: Tensor, steps: Int) throws -> Tensor {
        // 1. the sub-step's target and the timestep the whole RK step starts from
        let diffToPrev = counter % 2 == 1 ? 0 : schedule.count / steps / 2
        let prevTimestep = timestep - diffToPrev
        let startTimestep = prkTimesteps[counter / 4 * 4]
        // 2. accumulate the RK weights 1/6, 1/3, 1/3, 1/6
        var output = modelOutput
        switch counter % 4 {
        case 0:
            currentModelOutput = try accumulate(Float(1.0 / 6.0) * modelOutput)
            ets.append(modelOutput)
            currentSample = sample
        case 1, 2:
            currentModelOutput = try accumulate(Float(1.0 / 3.0) * modelOutput)
        default:
            output = try accumulate(Float(1.0 / 6.0) * modelOutput)
            currentModelOutput = nil
        }
        // 3. every sub-step starts from the sample at the start of the RK step
        return try previousSample(currentSample ?? sample, timestep: startTimestep, prevTimestep: prevTimestep,
                                  modelOutput: output)
    }

    private func accumulate(_ term: Tensor) throws -> Tensor {
        guard let current = currentModelOutput else { return term }
        return try current.adding(term)
    }

    /// A linear multistep step (`step_plms`), with the warm-up of `skip_prk_steps`.
    private mutating func stepLinearMultistep(modelOutput: Tensor, timestep: Int, sample: Tensor, steps: Int) throws -> Tensor {
        guard skipPrkSteps || ets.count >= 3 else {
            throw SchedulerError.unsupportedOption(scheduler: "PNDMScheduler", key: "PLMS step before 12 PRK steps",
                                                   value: String(counter))
        }
        // 1. the step's start and target; the second warm-up evaluation re-targets the first step
        var start = timestep
        var prevTimestep = timestep - schedule.count / steps
        if counter != 1 {
            ets = Array(ets.suffix(3)) + [modelOutput]
        } else {
            prevTimestep = timestep
            start = timestep + schedule.count / steps
        }
        // 2. combine past model outputs with the Adams-Bashforth weights
        var output = modelOutput
        var current = sample
        if ets.count == 1 && counter == 0 {
            currentSample = sample
        } else if ets.count == 1 && counter == 1 {
            output = try modelOutput.adding(ets[0]) / 2
            current = currentSample ?? sample
            currentSample = nil
        } else if ets.count == 2 {
            output = try ets[1].zipMap(ets[0]) { (3 * $0 - $1) / 2 }
        } else if ets.count == 3 {
            let partial = try ets[2].zipMap(ets[1]) { 23 * $0 - 16 * $1 }
            output = try partial.zipMap(ets[0]) { ($0 + 5 * $1) / 12 }
        } else {
            let partial = try ets[3].zipMap(ets[2]) { 55 * $0 - 59 * $1 }
            let more = try partial.zipMap(ets[1]) { $0 + 37 * $1 }
            output = try more.zipMap(ets[0]) { Float(1.0 / 24.0) * ($0 - 9 * $1) }
        }
        // 3. move the sample
        return try previousSample(current, timestep: start, prevTimestep: prevTimestep, modelOutput: output)
    }

    /// `_get_prev_sample`: Eq. (9) of the PNDM paper, x_(t-delta) from x_t and epsilon.
    private func previousSample(_ sample: Tensor, timestep: Int, prevTimestep: Int, modelOutput: Tensor) throws -> Tensor {
        let alphaProdT = schedule.alphasCumprod[timestep]
        let alphaProdTPrev = schedule.alphaCumprod(at: prevTimestep, fallback: finalAlphaCumprod)
        let betaProdT = 1 - alphaProdT
        let betaProdTPrev = 1 - alphaProdTPrev
        var epsilon = modelOutput
        if prediction == .vPrediction {
            epsilon = try modelOutput.weighted(alphaProdT.squareRoot(), sample, betaProdT.squareRoot())
        }
        let sampleCoefficient = (alphaProdTPrev / alphaProdT).squareRoot()
        let denominator = alphaProdT * betaProdTPrev.squareRoot() + (alphaProdT * betaProdT * alphaProdTPrev).squareRoot()
        let difference = alphaProdTPrev - alphaProdT
        return try sample.zipMap(epsilon) { sampleCoefficient * $0 - difference * $1 / denominator }
    }
}
