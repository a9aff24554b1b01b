import Tensors

/// The alpha-schedule family: DDIM, DDIM inverse, DDPM and PNDM, and the consistency
/// samplers LCM and TCD (`ConsistencyScheduler`).
///
/// They step between whole-number training timesteps with `alphas_cumprod` alone: the model
/// input is not scaled, the initial noise has unit variance, forward diffusion is
/// `sqrt(alpha_bar) * x0 + sqrt(1 - alpha_bar) * noise`, and (but for LCM and TCD) the place
/// in the loop comes from the timestep's value, so there is no begin index to set. Those
/// steps, and the timestep layout of `set_timesteps`, are this protocol's extension.
protocol AlphaScheduler: Scheduler {
    var state: AlphaSchedulerState { get set }
}

/// What every alpha-family scheduler holds between calls, in diffusers' words.
struct AlphaSchedulerState: Sendable {
    let setUp: SchedulerSetUp
    /// The inference timesteps, whole numbers in the order the loop visits them.
    var timesteps: [Double] = []
    /// diffusers' `num_inference_steps`; nil before `setTimesteps`.
    private(set) var numInferenceSteps: Int?

    init(_ setUp: SchedulerSetUp) {
        self.setUp = setUp
    }

    /// The shared part of `set_timesteps`: `count` descending timesteps by `timestep_spacing`
    /// (default `leading`) and `steps_offset`.
    mutating func setTimesteps(_ count: Int) throws {
        setTimesteps(try setUp.spacedTimesteps(count, defaultSpacing: "leading", roundsLinspace: true))
    }

    /// Installs `timesteps`, one inference step each.
    mutating func setTimesteps(_ timesteps: [Double]) {
        self.timesteps = timesteps
        numInferenceSteps = timesteps.count
    }

    /// `final_alpha_cumprod` (DDIM inverse's `initial_alpha_cumprod`), the alpha-bar beyond
    /// the schedule's end: 1 with `set_alpha_to_one` (whose default differs per class), else
    /// alphas_cumprod[0].
    func finalAlphaCumprod(setAlphaToOneByDefault: Bool) -> Float {
        (setUp.config.setAlphaToOne ?? setAlphaToOneByDefault) ? 1 : setUp.schedule.alphasCumprod[0]
    }
}

extension AlphaScheduler {
    public var config: SchedulerConfig { state.setUp.config }
    public var timesteps: [Double] { state.timesteps }
    public var initNoiseSigma: Float { 1 }
    var schedule: NoiseSchedule { state.setUp.schedule }
    var prediction: PredictionType { state.setUp.prediction }

    /// Nothing to set: these schedulers find their place from the timestep's value.
    public mutating func setBeginIndex(_ index: Int) {}

    /// The identity: the denoiser takes x_t as it is.
    public mutating func scaleModelInput(_ sample: Tensor, timestep: Double) throws -> Tensor { sample }

    /// Forward diffusion with `alphas_cumprod[t]`: `sqrt(a) * x0 + sqrt(1 - a) * noise` (diffusers'
    /// inverse scheduler has no `add_noise`; it gets DDIM's).
    public func addNoise(original: Tensor, noise: Tensor, timestep: Double) throws -> Tensor {
        let alphaCumprod = schedule.alphasCumprod[Int(timestep)]
        return try original.weighted(alphaCumprod.squareRoot(), noise, (1 - alphaCumprod).squareRoot())
    }
}

extension PredictionType {
    /// x0 and epsilon from the model output at alpha-bar `alphaProdT` (`betaProdT` = 1 - it),
    /// for each `prediction_type`, as DDIM, its inverse, LCM and TCD compute them.
    func originalAndEpsilon(_ modelOutput: Tensor, sample: Tensor,
                            alphaProdT: Float, betaProdT: Float) throws -> (original: Tensor, epsilon: Tensor) {
        let a = alphaProdT.squareRoot(), b = betaProdT.squareRoot()
        switch self {
        case .epsilon:
            return (try sample.zipMap(modelOutput) { ($0 - b * $1) / a }, modelOutput)
        case .sample:
            return (modelOutput, try sample.zipMap(modelOutput) { ($0 - a * $1) / b })
        case .vPrediction:
            return (try sample.weighted(a, modelOutput, -b), try modelOutput.weighted(a, sample, b))
        }
    }
}
