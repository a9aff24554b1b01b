import Foundation

/// Builds schedulers by recipe name or by diffusers class name, from a model's
/// `scheduler_config.json`, the way diffusers' `XScheduler.from_config(pipe.scheduler.config)`
/// does: keys present in the file are used, keys absent take the target class's defaults,
/// keys the target class does not take are ignored.
public enum SchedulerFactory {
    /// The diffusers classes implemented here, by `_class_name`, each built from a config and
    /// the call's options.
    static let classes: [(name: String, make: @Sendable (SchedulerConfig, SchedulerOptions) throws -> any Scheduler)] = [
        ("DDIMScheduler", { try DDIMScheduler(config: $0, eta: $1.eta) }),
        ("DDIMInverseScheduler", { config, _ in try DDIMInverseScheduler(config: config) }),
        ("DDPMScheduler", { config, _ in try DDPMScheduler(config: config) }),
        ("PNDMScheduler", { config, _ in try PNDMScheduler(config: config) }),
        ("EulerDiscreteScheduler", { config, _ in try EulerDiscreteScheduler(config: config) }),
        ("EulerAncestralDiscreteScheduler", { config, _ in try EulerAncestralDiscreteScheduler(config: config) }),
        ("LMSDiscreteScheduler", { config, _ in try LMSDiscreteScheduler(config: config) }),
        ("DPMSolverMultistepScheduler", { config, _ in try DPMSolverMultistepScheduler(config: config) }),
        ("LCMScheduler", { config, _ in try LCMScheduler(config: config) }),
        ("TCDScheduler", { try TCDScheduler(config: $0, gamma: $1.eta) }),
    ]

    /// The scheduler a recipe names, configured from the model's config plus the keys the
    /// name fixes (`SchedulerName.configured`).
    public static func make(_ name: SchedulerName, config: SchedulerConfig,
                            options: SchedulerOptions = SchedulerOptions()) throws -> any Scheduler {
        try make(className: name.className, config: name.configured(config), options: options)
    }

    /// The scheduler the config's `_class_name` names (what diffusers loads by default).
    public static func make(config: SchedulerConfig, options: SchedulerOptions = SchedulerOptions()) throws -> any Scheduler {
        try make(className: config.className ?? "PNDMScheduler", config: config, options: options)
    }

    /// Reads `scheduler_config.json` and builds the class it names.
    public static func load(contentsOf url: URL) throws -> any Scheduler {
        try make(config: SchedulerConfig.load(contentsOf: url))
    }

    private static func make(className: String, config: SchedulerConfig, options: SchedulerOptions) throws -> any Scheduler {
        guard let entry = classes.first(where: { $0.name == className }) else {
            throw SchedulerError.unknownScheduler(className)
        }
        return try entry.make(config, options)
    }
}
