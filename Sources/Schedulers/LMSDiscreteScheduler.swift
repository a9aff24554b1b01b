import Tensors

/// Linear multistep (Adams-Bashforth in sigma space, up to 4th order) on the
/// probability-flow ODE (k-diffusion's `sample_lms`).
///
/// This implementation matches diffusers `LMSDiscreteScheduler` (0.42.1,
/// `schedulers/scheduling_lms_discrete.py`) with its default `order` of 4. diffusers
/// integrates each coefficient polynomial with `scipy.integrate.quad`; the polynomials have
/// degree at most 3, so 4-point Gauss-Legendre integrates them exactly here.
///
/// Limitations:
/// - Exponential and beta sigmas are rejected; the `order` argument of `step` is fixed at 4.
public struct LMSDiscreteScheduler: SigmaScheduler {
    var state: SigmaSchedulerState
    private var derivatives: [Tensor] = []
    private let maximumOrder = 4

    public init(config: SchedulerConfig) throws {
        state = SigmaSchedulerState(try SchedulerSetUp("LMSDiscreteScheduler", config: config,
                                                       rejecting: .exponentialAndBetaSigmas, allowsZeroTerminalSNR: false))
    }

    public mutating func setTimesteps(_ numInferenceSteps: Int) throws {
        // LMS takes no sigma_min / sigma_max keys: Karras sigmas span the interpolated ends.
        try state.setTimesteps(numInferenceSteps, karras: (config.useKarrasSigmas ?? false) ? (nil, nil) : nil)
        derivatives = []
    }

    public mutating func step(modelOutput: Tensor, timestep: Double, sample: Tensor,
                              generator: inout TorchGenerator) throws -> SchedulerStepOutput {
        // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
        let (index, sigma, predOriginal) = try startStep(timestep, modelOutput: modelOutput, sample: sample)
        // 2. convert to an ODE derivative and keep the last `order` of them
        derivatives.append(try sample.zipMap(predOriginal) { ($0 - $1) / sigma })
        if derivatives.count > maximumOrder { derivatives.removeFirst() }
        // 3. compute the linear multistep coefficients
        let currentOrder = min(index + 1, maximumOrder)
        let coefficients = (0..<currentOrder).map { lmsCoefficient(order: currentOrder, index: index, term: $0) }
        // 4. compute previous sample from the derivatives' history
        var sum: Tensor?
        for (coefficient, derivative) in zip(coefficients, derivatives.reversed()) {
            let term = Float(coefficient) * derivative
            sum = try sum.map { try $0.adding(term) } ?? term
        }
        let prevSample = try sum.map { try sample.adding($0) } ?? sample
        state.advance()
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// `get_lms_coefficient`: the integral from sigma_i to sigma_(i+1) of the Lagrange basis
    /// polynomial of term `term` over the last `order` sigmas.
    private func lmsCoefficient(order: Int, index: Int, term: Int) -> Double {
        func basis(_ tau: Double) -> Double {
            var product = 1.0
            for k in 0..<order where k != term {
                product *= (tau - Double(sigmas[index - k])) / Double(sigmas[index - term] - sigmas[index - k])
            }
            return product
        }
        let lower = Double(sigmas[index]), upper = Double(sigmas[index + 1])
        let half = (upper - lower) / 2, middle = (upper + lower) / 2
        // 4-point Gauss-Legendre nodes and weights: exact for polynomials of degree <= 7.
        let nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526]
        let weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538]
        return zip(nodes, weights).reduce(0) { $0 + $1.1 * basis(middle + half * $1.0) } * half
    }
}
