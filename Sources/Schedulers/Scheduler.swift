import Tensors

/// What one denoising step produces.
public struct SchedulerStepOutput: Sendable {
    /// The sample at the previous (less noisy) timestep: diffusers' `prev_sample`.
    public var prevSample: Tensor
    /// The model's estimate of the clean sample, where diffusers returns one
    /// (`pred_original_sample`); nil for PNDM and DPM-Solver.
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
/// DPM-Solver) take it from `generator` inside `step`, one `randn(sample.shape)` per draw,
/// in the same order as diffusers.
public protocol Scheduler: Sendable {
    /// The configuration the scheduler was built from (absent keys are class defaults).
    var config: SchedulerConfig { get }
    /// The inference timesteps, in the order the loop visits them (empty before `setTimesteps`).
    var timesteps: [Double] { get }
    /// Model evaluations per entry of `timesteps` (diffusers' `order`; 1 for all here).
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
        let initTimestep = min(Int(Double(steps) * strength), steps)
        let start = max(steps - initTimestep, 0) * order
        setBeginIndex(start)
        return Array(timesteps.dropFirst(start))
    }
}

/// What the model predicts (`prediction_type`).
enum PredictionType: String, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample

    init(_ config: SchedulerConfig, scheduler: String, allowed: [PredictionType] = [.epsilon, .vPrediction, .sample]) throws {
        let raw = config.predictionType ?? "epsilon"
        guard let value = PredictionType(rawValue: raw), allowed.contains(value) else {
            throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "prediction_type", value: raw)
        }
        self = value
    }
}

/// Options no scheduler here implements; rejecting them beats silently diverging.
func rejectUnsupported(_ config: SchedulerConfig, scheduler: String) throws {
    if config.thresholding ?? false {
        throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "thresholding", value: "true")
    }
}

/// Validates a requested step count against the training timesteps.
func validateStepCount(_ count: Int, trainTimesteps: Int) throws {
    guard count >= 1, count <= trainTimesteps else {
        throw SchedulerError.invalidStepCount(requested: count, trainTimesteps: trainTimesteps)
    }
}

/// The DDPM-family timestep layouts of DDIM, DDPM and PNDM (descending, whole numbers).
func alphaTimesteps(spacing: String, count: Int, trainTimesteps: Int, offset: Int, scheduler: String) throws -> [Double] {
    switch spacing {
    case "linspace":
        return TimestepSpacing.linspace(last: Double(trainTimesteps - 1), count: count)
    case "leading":
        return TimestepSpacing.leading(trainTimesteps: trainTimesteps, count: count, offset: offset)
    case "trailing":
        return TimestepSpacing.trailing(from: trainTimesteps, trainTimesteps: trainTimesteps, count: count)
    default:
        throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "timestep_spacing", value: spacing)
    }
}

/// Forward diffusion with `alphas_cumprod[t]`: `sqrt(a) * x0 + sqrt(1 - a) * noise`.
func addNoiseWithAlphaCumprod(_ alphaCumprod: Float, original: Tensor, noise: Tensor) throws -> Tensor {
    try original.weighted(alphaCumprod.squareRoot(), noise, (1 - alphaCumprod).squareRoot())
}
