/// The step counter of the sigma-based schedulers (Euler, Euler ancestral, LMS,
/// DPM-Solver): diffusers' `_step_index` / `_begin_index` and `index_for_timestep`.
struct StepIndex: Sendable {
    private(set) var current: Int?
    private(set) var begin: Int?

    /// Forgets the position; `setTimesteps` calls this.
    mutating func reset() {
        current = nil
        begin = nil
    }

    mutating func setBegin(_ index: Int) { begin = index }

    /// Finds the position on first use: the begin index if set, else the timestep's place.
    mutating func resolve(_ timestep: Double, in timesteps: [Double], scheduler: String,
                          missingIsLast: Bool = false) throws -> Int {
        if let current { return current }
        let index = try begin ?? Self.index(of: timestep, in: timesteps, scheduler: scheduler, missingIsLast: missingIsLast)
        current = index
        return index
    }

    mutating func advance() {
        if let current { self.current = current + 1 }
    }

    /// `index_for_timestep`: the second match when the timestep repeats (so a loop that
    /// starts mid-schedule does not skip a sigma), else the only one. DPM-Solver maps a
    /// timestep it does not know to the last index (`missingIsLast`).
    static func index(of timestep: Double, in timesteps: [Double], scheduler: String,
                      missingIsLast: Bool = false) throws -> Int {
        let matches = timesteps.indices.filter { timesteps[$0] == timestep }
        if matches.isEmpty {
            guard missingIsLast, !timesteps.isEmpty else {
                throw SchedulerError.timestepNotInSchedule(scheduler: scheduler, timestep: timestep)
            }
            return timesteps.count - 1
        }
        return matches.count > 1 ? matches[1] : matches[0]
    }

    /// The sigma index `add_noise` uses: the begin index once set (or the current step),
    /// else the timestep's place in the schedule.
    func addNoiseIndex(for timestep: Double, in timesteps: [Double], scheduler: String,
                       missingIsLast: Bool = false) throws -> Int {
        guard begin != nil else {
            return try Self.index(of: timestep, in: timesteps, scheduler: scheduler, missingIsLast: missingIsLast)
        }
        return current ?? begin ?? 0
    }
}

/// The timesteps of the sigma-based schedulers for each `timestep_spacing` (float32 values).
func sigmaTimesteps(spacing: String, count: Int, trainTimesteps: Int, offset: Int, scheduler: String) throws -> [Double] {
    let values: [Double]
    switch spacing {
    case "linspace":
        values = TimestepSpacing.linspace(last: Double(trainTimesteps - 1), count: count, round: false)
    case "leading":
        values = TimestepSpacing.leading(trainTimesteps: trainTimesteps, count: count, offset: offset)
    case "trailing":
        values = TimestepSpacing.trailing(from: trainTimesteps, trainTimesteps: trainTimesteps, count: count)
    default:
        throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "timestep_spacing", value: spacing)
    }
    return values.map { Double(Float($0)) }
}
