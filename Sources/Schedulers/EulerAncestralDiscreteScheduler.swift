import Tensors

/// Ancestral sampling with Euler steps: each step goes down to sigma_down deterministically
/// and adds fresh noise of size sigma_up (k-diffusion's `sample_euler_ancestral`).
///
/// This implementation matches diffusers `EulerAncestralDiscreteScheduler` (0.42.1,
/// `schedulers/scheduling_euler_ancestral_discrete.py`). Every step, the last included,
/// draws `randn(sample.shape)` from the generator after the deterministic update.
///
/// Limitations:
/// - `prediction_type: sample` is rejected (diffusers raises NotImplementedError).
public struct EulerAncestralDiscreteScheduler: SigmaScheduler {
    var state: SigmaSchedulerState

    public init(config: SchedulerConfig) throws {
        state = SigmaSchedulerState(try SchedulerSetUp("EulerAncestralDiscreteScheduler", config: config,
                                                       predictions: [.epsilon, .vPrediction]))
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        try state.setTimesteps(numInferenceSteps)
    }

    // Notation (k-diffusion `get_ancestral_step`): sigma_up^2 = sigma_to^2 (sigma_from^2 -
    // sigma_to^2) / sigma_from^2, sigma_down^2 = sigma_to^2 - sigma_up^2.
    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
        let (index, sigma, predOriginal) = try startStep(timestep, modelOutput: modelOutput, sample: sample)
        // 2. split the move to the next sigma into a deterministic and a noise part
        let sigmaTo = sigmas[index + 1]
        let sigmaUp = ((sigmaTo * sigmaTo) * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma)).squareRoot()
        let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
        // 3. Euler step to sigma_down
        let dt = sigmaDown - sigma
        let deterministic = try sample.zipMap(predOriginal) { x, x0 in x + ((x - x0) / sigma) * dt }
        // 4. add noise of size sigma_up
        let noise = generator.randn(modelOutput.shape)
        let prevSample = try deterministic.zipMap(noise) { $0 + $1 * sigmaUp }
        state.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }
}
