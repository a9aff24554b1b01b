import Foundation

/// The consistency samplers, LCM and TCD: alpha-schedule schedulers for models distilled to
/// sample in a few steps (1-8, at guidance 1-2 or none).
///
/// Their timesteps are picked evenly from the schedule the model was distilled on
/// (`original_inference_steps`, 50 by default), whatever `timestep_spacing` and `steps_offset`
/// say, and, like the sigma family, they find their place in the loop by position
/// (diffusers' `_step_index`), because the last step is the one that adds no noise. With
/// img2img the pipeline cuts the schedule as for any scheduler (`timestepsForStrength`:
/// diffusers' StableDiffusionImg2ImgPipeline calls `set_timesteps(steps)` and then
/// `get_timesteps`), so strength 0.5 of 8 steps runs the last 4 of the 8-step schedule.
protocol ConsistencyScheduler: AlphaScheduler {
    var counter: StepCounter { get set }
}

extension ConsistencyScheduler {
    public mutating func setBeginIndex(_ index: Int) { counter.setBeginIndex(index) }

    /// `set_timesteps(num_inference_steps)`: `numInferenceSteps` timesteps of the distillation
    /// schedule (`distilledTimesteps`), and a fresh step counter.
    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        state.setTimesteps(try Self.distilledTimesteps(
            numInferenceSteps, originalSteps: config.originalInferenceSteps ?? 50,
            trainTimesteps: schedule.count, scheduler: state.setUp.name))
        counter = StepCounter()
    }

    /// The distillation schedule `k - 1, 2k - 1, ..., originalSteps * k - 1` (k = train /
    /// originalSteps) descending, and `count` entries of it evenly spaced by position
    /// (`floor(linspace(0, originalSteps, count, endpoint=False))`): 4 of 50 gives
    /// 999, 759, 499, 259.
    static func distilledTimesteps(_ count: Int, originalSteps: Int, trainTimesteps: Int,
                                   scheduler: String) throws -> [Double] {
        guard (1...trainTimesteps).contains(originalSteps) else {
            throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "original_inference_steps",
                                                   value: String(originalSteps))
        }
        try validateStepCount(count, trainTimesteps: trainTimesteps)
        guard count <= originalSteps else {
            throw SchedulerError.exceedsDistillationSchedule(scheduler: scheduler, requested: count,
                                                             originalSteps: originalSteps)
        }
        let k = trainTimesteps / originalSteps
        let descending = (1...originalSteps).reversed().map { $0 * k - 1 }
        // numpy's linspace without its end point: i * (stop / count), in float64
        let spacing = Double(originalSteps) / Double(count)
        return (0..<count).map { Double(descending[Int((Double($0) * spacing).rounded(.down))]) }
    }

    /// The start of a step at `timestep`: its position, whether it is the last inference step
    /// (which adds no noise), and the timestep after it (nil for the schedule's last).
    mutating func startStep(_ timestep: Double) throws -> (index: Int, isLast: Bool, next: Double?) {
        guard let steps = state.numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: state.setUp.name) }
        let index = try counter.resolve(timestep, in: timesteps, scheduler: state.setUp.name)
        guard index < timesteps.count else { throw SchedulerError.stepPastEnd(scheduler: state.setUp.name, index: index) }
        return (index, index == steps - 1, index + 1 < timesteps.count ? timesteps[index + 1] : nil)
    }
}

extension SchedulerConfig {
    /// The beta schedule LCM and TCD default to where the config gives none (Stable
    /// Diffusion's: scaled_linear from 0.00085 to 0.012), unlike the other classes' linear
    /// 0.0001...0.02.
    var withConsistencyBetaDefaults: SchedulerConfig {
        var config = self
        config.betaStart = betaStart ?? 0.00085
        config.betaEnd = betaEnd ?? 0.012
        config.betaSchedule = betaSchedule ?? "scaled_linear"
        return config
    }
}
