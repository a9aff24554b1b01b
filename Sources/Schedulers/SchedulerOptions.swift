/// What a pipeline call sets on its scheduler beyond the model's config (the arguments
/// diffusers' pipelines pass to `step` through `prepare_extra_step_kwargs`).
public struct SchedulerOptions: Sendable, Equatable {
    /// DDIM's `eta`, the weight of its stochastic term: 0 is deterministic DDIM, 1 DDPM's
    /// variance; and TCD's gamma, which diffusers' pipelines pass to its `step` as `eta`.
    /// In 0...1. Other schedulers ignore it, as diffusers' pipelines do.
    public var eta: Float

    public init(eta: Float = 0) {
        self.eta = eta
    }
}
