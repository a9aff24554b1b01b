/// diffusers' `_step_index` and `_begin_index`: how the schedulers that find their place in
/// the loop by position (the sigma family, LCM and TCD) know which step they are at.
struct StepCounter: Sendable {
    /// `_step_index`: the position of the current step, found on first use.
    private(set) var stepIndex: Int?
    /// `_begin_index`: where a loop that skips the first timesteps starts (`set_begin_index`).
    private(set) var beginIndex: Int?

    mutating func setBeginIndex(_ index: Int) { beginIndex = index }

    /// `_init_step_index` on first use: the begin index if set, else the timestep's place in
    /// `timesteps`; the current position afterwards.
    mutating func resolve(_ timestep: Double, in timesteps: [Double], scheduler: String,
                          missingIsLast: Bool = false) throws -> Int {
        if let stepIndex { return stepIndex }
        let index = try beginIndex
            ?? Self.index(of: timestep, in: timesteps, scheduler: scheduler, missingIsLast: missingIsLast)
        stepIndex = index
        return index
    }

    mutating func advance() {
        if let stepIndex { self.stepIndex = stepIndex + 1 }
    }

    /// `index_for_timestep`: the second match when the timestep repeats (so a loop that
    /// starts mid-schedule does not skip a step), else the only one. DPM-Solver maps a
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
}
