import Foundation

/// Everything that can go wrong building or running a scheduler.
public enum SchedulerError: LocalizedError, Equatable {
    /// A scheduler class (`_class_name`) that Overpaint does not implement.
    case unknownScheduler(String)
    /// A configuration value this implementation does not support (or diffusers rejects).
    case unsupportedOption(scheduler: String, key: String, value: String)
    /// `setTimesteps` was asked for zero steps or more steps than the model was trained with.
    case invalidStepCount(requested: Int, trainTimesteps: Int)
    /// LCM / TCD asked for more steps than the distillation schedule they pick from.
    case exceedsDistillationSchedule(scheduler: String, requested: Int, originalSteps: Int)
    /// `step`, `scaleModelInput` or `addNoise` was called before `setTimesteps`.
    case timestepsNotSet(scheduler: String)
    /// A timestep that is not in the scheduler's current schedule.
    case timestepNotInSchedule(scheduler: String, timestep: Double)
    /// The loop ran past the end of the schedule.
    case stepPastEnd(scheduler: String, index: Int)
    /// Two tensors that must have the same shape do not.
    case shapeMismatch(what: String, expected: [Int], got: [Int])
    /// A `scheduler_config.json` that cannot be read or decoded.
    case unreadableConfig(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .unknownScheduler(let name):
            return "unknown scheduler class '\(name)' (implemented: \(SchedulerFactory.classes.map(\.name).joined(separator: ", ")))"
        case .unsupportedOption(let scheduler, let key, let value):
            return "\(scheduler): unsupported \(key) = \(value)"
        case .invalidStepCount(let requested, let trainTimesteps):
            return "cannot run \(requested) inference steps: must be between 1 and \(trainTimesteps)"
        case .exceedsDistillationSchedule(let scheduler, let requested, let originalSteps):
            return "\(scheduler): cannot run \(requested) inference steps: its timesteps are picked from the "
                + "\(originalSteps)-step schedule the model was distilled on (original_inference_steps)"
        case .timestepsNotSet(let scheduler):
            return "\(scheduler): setTimesteps must be called before stepping"
        case .timestepNotInSchedule(let scheduler, let timestep):
            return "\(scheduler): timestep \(timestep) is not in the current schedule"
        case .stepPastEnd(let scheduler, let index):
            return "\(scheduler): step \(index) is past the end of the schedule"
        case .shapeMismatch(let what, let expected, let got):
            return "\(what): expected shape \(expected), got \(got)"
        case .unreadableConfig(let path, let reason):
            return "\(path): cannot read scheduler config: \(reason)"
        }
    }
}
