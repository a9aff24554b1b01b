import Foundation

/// The training noise schedule shared by every scheduler: betas and the cumulative
/// product of alphas, built in float32 as diffusers builds them with torch.
struct NoiseSchedule: Sendable {
    let betas: [Float]
    private(set) var alphasCumprod: [Float]

    var count: Int { alphasCumprod.count }

    /// `betas` from `trained_betas`, `linear`, `scaled_linear` or `squaredcos_cap_v2`, then
    /// `rescale_zero_terminal_snr` when asked (diffusers' `__init__` of every scheduler).
    init(config: SchedulerConfig, scheduler: String, allowRescale: Bool = true) throws {
        let count = config.numTrainTimesteps ?? 1000
        let start = config.betaStart ?? 0.0001
        let end = config.betaEnd ?? 0.02
        var betas: [Float]
        if let trained = config.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            switch config.betaSchedule ?? "linear" {
            case "linear":
                betas = Self.torchLinspace(Float(start), Float(end), count)
            case "scaled_linear":
                betas = Self.torchLinspace(Float(start.squareRoot()), Float(end.squareRoot()), count).map { $0 * $0 }
            case "squaredcos_cap_v2":
                betas = Self.cosineBetas(count)
            case let other:
                throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "beta_schedule", value: other)
            }
        }
        if config.rescaleBetasZeroSnr ?? false {
            guard allowRescale else {
                throw SchedulerError.unsupportedOption(scheduler: scheduler, key: "rescale_betas_zero_snr", value: "true")
            }
            betas = Self.rescaledToZeroTerminalSNR(betas)
        }
        self.betas = betas
        self.alphasCumprod = Self.cumulativeProduct(betas.map { 1 - $0 })
    }

    mutating func setTerminalAlphaCumprod(_ value: Float) {
        alphasCumprod[alphasCumprod.count - 1] = value
    }

    /// `sqrt((1 - alpha_bar) / alpha_bar)` per training timestep, in float32.
    var sigmas: [Float] {
        alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// `alphas_cumprod[t]`, or `fallback` for negative `t` (DDIM's `final_alpha_cumprod`).
    func alphaCumprod(at timestep: Int, fallback: Float) -> Float {
        timestep >= 0 ? alphasCumprod[timestep] : fallback
    }

    // MARK: - Construction, as torch computes it

    /// `torch.linspace(start, end, count, dtype=float32)`: the step in float32, the first
    /// half counted up from `start` and the second half down from `end`, each value one
    /// fused multiply-add (as torch's compiled CPU kernel computes it).
    static func torchLinspace(_ start: Float, _ end: Float, _ count: Int) -> [Float] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Float(count - 1)
        let halfway = count / 2
        return (0..<count).map { index in
            index < halfway
                ? start.addingProduct(step, Float(index))
                : end.addingProduct(-step, Float(count - index - 1))
        }
    }

    /// `betas_for_alpha_bar(count)` with the cosine transform, capped at 0.999.
    static func cosineBetas(_ count: Int) -> [Float] {
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<count).map { index in
            let t1 = Double(index) / Double(count)
            let t2 = Double(index + 1) / Double(count)
            return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
        }
    }

    /// `torch.cumprod` on a float32 CPU tensor accumulates in double.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var running = 1.0
        return values.map { value in
            running *= Double(value)
            return Float(running)
        }
    }

    /// `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1), in float32.
    static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var roots = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        guard let first = roots.first, let last = roots.last else { return betas }
        let scale = first / (first - last)
        roots = roots.map { ($0 - last) * scale }
        let alphaBars = roots.map { $0 * $0 }
        var alphas = [alphaBars[0]]
        for index in 1..<alphaBars.count { alphas.append(alphaBars[index] / alphaBars[index - 1]) }
        return alphas.map { 1 - $0 }
    }
}

/// Inference timestep layouts (`timestep_spacing`), as the schedulers' `set_timesteps` build
/// them with numpy in float64. All return descending timesteps.
enum TimestepSpacing {
    /// `np.linspace(0, last, count).round()[::-1]` (round half to even, as numpy).
    static func linspace(last: Double, count: Int, round: Bool = true) -> [Double] {
        numpyLinspace(0, last, count).map { round ? $0.rounded(.toNearestOrEven) : $0 }.reversed()
    }

    /// `(np.arange(0, count) * (train // count)).round()[::-1] + offset`.
    static func leading(trainTimesteps: Int, count: Int, offset: Int) -> [Double] {
        let ratio = trainTimesteps / count
        return (0..<count).reversed().map { Double($0 * ratio + offset) }
    }

    /// `np.round(np.arange(train, 0, -train / count)) - 1`.
    static func trailing(from start: Int, trainTimesteps: Int, count: Int) -> [Double] {
        numpyArange(Double(start), 0, -Double(trainTimesteps) / Double(count))
            .map { $0.rounded(.toNearestOrEven) - 1 }
    }

    /// `np.linspace(start, stop, count)`: `i * step + start`, with the end point exact.
    static func numpyLinspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }

    /// `np.arange(start, stop, step)` for floats: numpy fills `start + i * delta` with
    /// `delta = (start + step) - start`.
    static func numpyArange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let length = Int(((stop - start) / step).rounded(.up))
        guard length > 0 else { return [] }
        let delta = (start + step) - start
        return (0..<length).map { $0 == 0 ? start : start + Double($0) * delta }
    }
}

/// Sigma-space helpers shared by the Karras-style schedulers (diffusers' `_sigma_to_t`,
/// `_convert_to_karras`, and `np.interp` over the training sigmas).
enum SigmaSchedule {
    /// `np.interp(timesteps, arange(n), sigmas)` for timesteps inside [0, n - 1].
    static func interpolate(_ sigmas: [Float], at timesteps: [Double]) -> [Double] {
        timesteps.map { t in
            let clamped = min(max(t, 0), Double(sigmas.count - 1))
            let low = min(Int(clamped.rounded(.down)), sigmas.count - 2)
            let lowValue = Double(sigmas[low])
            if clamped == Double(low) { return lowValue }
            if clamped == Double(low + 1) { return Double(sigmas[low + 1]) }
            let slope = Double(sigmas[low + 1]) - lowValue
            return slope * (clamped - Double(low)) + lowValue
        }
    }

    /// Karras et al. 2022, Eq. (5): `(max^(1/rho) + ramp * (min^(1/rho) - max^(1/rho)))^rho`, rho 7.
    static func karras(sigmaMin: Double, sigmaMax: Double, count: Int) -> [Double] {
        let rho = 7.0
        let minInverse = pow(sigmaMin, 1 / rho)
        let maxInverse = pow(sigmaMax, 1 / rho)
        return TimestepSpacing.numpyLinspace(0, 1, count).map { ramp in
            pow(maxInverse + ramp * (minInverse - maxInverse), rho)
        }
    }

    /// `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`, by linear
    /// interpolation in log-sigma. `logSigmas` ascend with t.
    static func timestep(for sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = log(max(sigma, 1e-10))
        let atOrBelow = logSigmas.reduce(0) { $0 + (logSigma - Double($1) >= 0 ? 1 : 0) }
        let low = min(max(atOrBelow - 1, 0), logSigmas.count - 2)
        let lowValue = logSigmas[low]
        // numpy subtracts the two float32 entries in float32.
        let span = Double(lowValue - logSigmas[low + 1])
        let weight = min(max((Double(lowValue) - logSigma) / span, 0), 1)
        return (1 - weight) * Double(low) + weight * Double(low + 1)
    }

    /// `np.log` of the float32 training sigmas, kept in float32 as numpy does. numpy's
    /// SIMD float32 log is not correctly rounded (and differs between CPUs), so about a
    /// fifth of these differ from numpy's in the last bit; fractional timesteps derived from
    /// them agree to about 1e-7 relative.
    static func logSigmas(_ sigmas: [Float]) -> [Float] {
        sigmas.map { Float(log(Double($0))) }
    }
}
