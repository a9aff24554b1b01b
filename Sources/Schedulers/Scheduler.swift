import Tensors

/// What one denoising step produces.
public struct SchedulerStepOutput: Sendable {
    /// The sample at the previous (less noisy) timestep: diffusers' `prev_sample`.
    public var prevSample: Tensor
    /// The model's estimate of the clean sample, where diffusers returns one
    /// (`pred_original_sample`, LCM's `denoised`); nil for PNDM, DPM-Solver and TCD.
    public var predOriginalSample: Tensor?
}

/// A diffusion sampler, in diffusers' words, so a pipeline reads call for call like the
/// reference:
///
/// ```
/// scheduler.setTimesteps(steps)
/// latents = noise * scheduler.initNoiseSigma
/// for t in scheduler.timesteps {
///     input = scheduler.scaleModelInput(latents, timestep: t)
///     latents = scheduler.step(modelOutput: unet(input, t), timestep: t, sample: latents,
///                              generator: &generator).prevSample
/// }
/// ```
///
/// Timesteps are `Double`s because Euler-type schedulers use fractional timesteps (stored
/// as float32 values, as diffusers does); the others hold whole numbers.
/// Schedulers that draw noise (`DDPM`, `EulerAncestral`, `DDIM` with eta > 0, SDE
/// DPM-Solver, `LCM`, `TCD` with gamma > 0) take it from `generator` inside `step`, one
/// `randn(sample.shape)` per draw, in the same order as diffusers.
public protocol Scheduler: Sendable {
    /// The configuration the scheduler was built from (absent keys are class defaults).
    var config: SchedulerConfig { get }
    /// The inference timesteps, in the order the loop visits them (empty before `setTimesteps`).
    var timesteps: [Double] { get }
    /// Model evaluations per entry of `timesteps` (diffusers' `order`).
    var order: Int { get }
    /// The standard deviation of the initial noise: multiply `randn` by it.
    var initNoiseSigma: Float { get }

    /// Builds the inference schedule for `numInferenceSteps` steps and resets all state.
    mutating func setTimesteps(_ numInferenceSteps: Int) throws
    /// Where the loop starts when it skips the first timesteps (img2img strength);
    /// diffusers' `set_begin_index`. Schedulers that look timesteps up by value ignore it.
    mutating func setBeginIndex(_ index: Int)
    /// Scales the denoiser input for the current timestep (identity for DDPM-style schedulers).
    mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor
    /// One denoising step from `timestep` (`sample`, shape [N, C, H, W]) to the previous one.
    mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                       generator: inout TorchGenerator) throws -> SchedulerStepOutput
    /// Forward diffusion to `timestep`: the noisy sample a loop starting there begins from.
    func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor
}

extension Scheduler {
    /// One model evaluation per timestep, as every scheduler here takes.
    public var order: Int { 1 }

    /// `step` for schedulers that draw no noise in this configuration. Where diffusers
    /// would fall back to torch's global generator, this uses a fresh seed-0 generator.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor) throws -> SchedulerStepOutput {
        var generator = TorchGenerator(seed: 0)
        return try step(modelOutput: modelOutput, timestep: timestep, sample: sample, generator: &generator)
    }

    /// img2img's `get_timesteps`: keeps the last `int(steps * strength)` steps, tells the
    /// scheduler where the loop begins, and returns the timesteps to run (the first one is
    /// where `addNoise` must noise the encoded image). Call after `setTimesteps(steps)`.
    public mutating func timestepsForStrength(_ strength: Double, steps: Int) -> [Double] {
        let initTimestep = DenoisingStrength.stepsRun(strength, of: steps)
        let start = max(steps - initTimestep, 0) * order
        setBeginIndex(start)
        return Array(timesteps.dropFirst(start))
    }
}

/// What the model predicts (`prediction_type`).
enum PredictionType: String, Sendable, CaseIterable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample

    init(_ config: SchedulerConfig, scheduler: String, allowed: [PredictionType] = allCases) throws {
        let raw = config.predictionType ?? "epsilon"
        guard let value = PredictionType(rawValue: raw), allowed.contains(value) else {
            throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "prediction_type", value: raw)
        }
        self = value
    }
}

/// What every scheduler's `__init__` builds from its config: the training schedule and the
/// prediction type, after rejecting keys the class takes but this implementation does not
/// (rejecting them beats silently diverging).
struct SchedulerSetUp: Sendable {
    /// Boolean keys of a diffusers class that are not implemented here.
    struct Unimplemented: OptionSet, Sendable {
        let rawValue: Int
        static let thresholding = Unimplemented(rawValue: 1 << 0)
        /// `use_exponential_sigmas` and `use_beta_sigmas`.
        static let exponentialAndBetaSigmas = Unimplemented(rawValue: 1 << 1)
    }

    /// The diffusers class, for errors.
    let name: String
    let config: SchedulerConfig
    var schedule: NoiseSchedule
    let prediction: PredictionType

    init(_ name: String, config: SchedulerConfig, rejecting unimplemented: Unimplemented = [],
         predictions: [PredictionType] = PredictionType.allCases, allowsZeroTerminalSNR: Bool = true) throws {
        var rejected: [(key: String, value: Bool?)] = []
        if unimplemented.contains(.thresholding) { rejected.append(("thresholding", config.thresholding)) }
        if unimplemented.contains(.exponentialAndBetaSigmas) {
            rejected += [("use_exponential_sigmas", config.useExponentialSigmas), ("use_beta_sigmas", config.useBetaSigmas)]
        }
        if let key = rejected.first(where: { $0.value ?? false })?.key {
            throw SchedulerError.unsupportedOption(scheduler: name, key: key, value: "true")
        }
        self.name = name
        self.config = config
        self.schedule = try NoiseSchedule(config: config, scheduler: name, allowRescale: allowsZeroTerminalSNR)
        self.prediction = try PredictionType(config, scheduler: name, allowed: predictions)
    }

    /// The descending timesteps `set_timesteps` lays out for `count` steps by
    /// `timestep_spacing` (`defaultSpacing` when absent): `linspace` over the training
    /// timesteps (rounded to whole ones where `roundsLinspace`), `leading` plus
    /// `steps_offset`, or `trailing`.
    func spacedTimesteps(_ count: Int, defaultSpacing: String, roundsLinspace: Bool) throws -> [Double] {
        let train = schedule.count
        try validateStepCount(count, trainTimesteps: train)
        switch config.timestepSpacing ?? defaultSpacing {
        case "linspace":
            return TimestepSpacing.linspace(last: Double(train - 1), count: count, round: roundsLinspace)
        case "leading":
            return TimestepSpacing.leading(trainTimesteps: train, count: count, offset: config.stepsOffset ?? 0)
        case "trailing":
            return TimestepSpacing.trailing(from: train, trainTimesteps: train, count: count)
        case let other:
            throw SchedulerError.unsupportedOption(scheduler: name, key: "timestep_spacing", value: other)
        }
    }
}

/// Validates a requested step count against the training timesteps.
func validateStepCount(_ count: Int, trainTimesteps: Int) throws {
    guard count >= 1, count <= trainTimesteps else {
        throw SchedulerError.invalidStepCount(requested: count, trainTimesteps: trainTimesteps)
    }
}
