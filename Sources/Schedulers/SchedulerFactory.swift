import Foundation

/// Builds schedulers by recipe name or by diffusers class name, from a model's
/// `scheduler_config.json`, the way diffusers' `XScheduler.from_config(pipe.scheduler.config)`
/// does: keys present in the file are used, keys absent take the target class's defaults,
/// keys the target class does not take are ignored.
public enum SchedulerFactory {
    /// The recipe names, in the order documented.
    public static let names = ["ddim", "ddim_inverse", "ddpm", "pndm", "euler", "euler_a",
                               "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_2m_sde", "lms"]

    /// The scheduler a recipe `scheduler:` key names, configured from the model's config.
    /// `dpmpp_2m*` force `algorithm_type` and `solver_order: 2` as the names promise
    /// (`_karras` adds `use_karras_sigmas: true`).
    public static func make(name: String, config: SchedulerConfig) throws -> any Scheduler {
        var config = config
        switch name {
        case "ddim": return try DDIMScheduler(config: config)
        case "ddim_inverse": return try DDIMInverseScheduler(config: config)
        case "ddpm": return try DDPMScheduler(config: config)
        case "pndm": return try PNDMScheduler(config: config)
        case "euler": return try EulerDiscreteScheduler(config: config)
        case "euler_a": return try EulerAncestralDiscreteScheduler(config: config)
        case "lms": return try LMSDiscreteScheduler(config: config)
        case "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_2m_sde":
            config.algorithmType = name == "dpmpp_2m_sde" ? "sde-dpmsolver++" : "dpmsolver++"
            config.solverOrder = 2
            if name == "dpmpp_2m_karras" { config.useKarrasSigmas = true }
            return try DPMSolverMultistepScheduler(config: config)
        default:
            throw SchedulerError.unknownScheduler(name)
        }
    }

    /// The scheduler the config's `_class_name` names (what diffusers loads by default).
    public static func make(config: SchedulerConfig) throws -> any Scheduler {
        let className = config.className ?? "PNDMScheduler"
        switch className {
        case "DDIMScheduler": return try DDIMScheduler(config: config)
        case "DDIMInverseScheduler": return try DDIMInverseScheduler(config: config)
        case "DDPMScheduler": return try DDPMScheduler(config: config)
        case "PNDMScheduler": return try PNDMScheduler(config: config)
        case "EulerDiscreteScheduler": return try EulerDiscreteScheduler(config: config)
        case "EulerAncestralDiscreteScheduler": return try EulerAncestralDiscreteScheduler(config: config)
        case "LMSDiscreteScheduler": return try LMSDiscreteScheduler(config: config)
        case "DPMSolverMultistepScheduler": return try DPMSolverMultistepScheduler(config: config)
        default: throw SchedulerError.unknownScheduler(className)
        }
    }

    /// Reads `scheduler_config.json` and builds the class it names.
    public static func load(contentsOf url: URL) throws -> any Scheduler {
        try make(config: SchedulerConfig.load(contentsOf: url))
    }
}
