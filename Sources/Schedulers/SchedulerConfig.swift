import Foundation

/// A diffusers `scheduler_config.json`, key for key.
///
/// Every field is optional: `nil` means the key was absent, and each scheduler then uses
/// its own class default, exactly as `XScheduler.from_config(other.config)` does in diffusers
/// (which drops the defaults the other class filled in, via `_use_default_values`, and
/// ignores keys the target class does not take). Unknown keys are ignored when decoding.
public struct SchedulerConfig: Codable, Sendable, Equatable {
    /// `_class_name`: the diffusers class the file was written for.
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    /// `linear`, `scaled_linear` or `squaredcos_cap_v2`.
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    /// `epsilon`, `v_prediction` or `sample`.
    public var predictionType: String?
    /// `leading`, `trailing` or `linspace`.
    public var timestepSpacing: String?
    public var stepsOffset: Int?
    public var setAlphaToOne: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var thresholding: Bool?
    public var rescaleBetasZeroSnr: Bool?
    /// PNDM: run Runge-Kutta warm-up steps unless true.
    public var skipPrkSteps: Bool?
    /// DDPM: `fixed_small`, `fixed_small_log`, `fixed_large`, `fixed_large_log`.
    public var varianceType: String?
    public var useKarrasSigmas: Bool?
    public var useExponentialSigmas: Bool?
    public var useBetaSigmas: Bool?
    public var useLuLambdas: Bool?
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    /// Euler: `linear` (the only one supported) or `log_linear`.
    public var interpolationType: String?
    /// Euler: `discrete` (the only one supported) or `continuous`.
    public var timestepType: String?
    /// `zero` or `sigma_min`.
    public var finalSigmasType: String?
    /// DPM-Solver: 1, 2 or 3.
    public var solverOrder: Int?
    /// DPM-Solver: `dpmsolver++`, `sde-dpmsolver++`, `dpmsolver`, `sde-dpmsolver`.
    public var algorithmType: String?
    /// DPM-Solver: `midpoint` or `heun`.
    public var solverType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var lambdaMinClipped: Double?
    /// LCM / TCD: the length of the distillation schedule their timesteps are picked from.
    public var originalInferenceSteps: Int?
    /// LCM: the factor on the timestep in the consistency boundary conditions.
    public var timestepScaling: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing"
        case stepsOffset = "steps_offset"
        case setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case thresholding
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case skipPrkSteps = "skip_prk_steps"
        case varianceType = "variance_type"
        case useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case interpolationType = "interpolation_type"
        case timestepType = "timestep_type"
        case finalSigmasType = "final_sigmas_type"
        case solverOrder = "solver_order"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case lambdaMinClipped = "lambda_min_clipped"
        case originalInferenceSteps = "original_inference_steps"
        case timestepScaling = "timestep_scaling"
    }

    /// Reads a diffusers `scheduler_config.json`.
    public static func load(contentsOf url: URL) throws -> SchedulerConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SchedulerError.unreadableConfig(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data, path: url.path)
    }

    /// Decodes the JSON text of a `scheduler_config.json`; `path` names it in errors.
    public static func decode(_ data: Data, path: String = "scheduler_config.json") throws -> SchedulerConfig {
        let decoder = JSONDecoder()
        // Python's json module writes these for infinite floats (e.g. lambda_min_clipped).
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(SchedulerConfig.self, from: quotingNonFiniteNumbers(data))
        } catch {
            throw SchedulerError.unreadableConfig(path: path, reason: String(describing: error))
        }
    }

    /// Python writes infinite floats as bare `Infinity` / `-Infinity` / `NaN`, which is not
    /// JSON; quoting them (outside strings) lets the decoder's non-conforming-float strategy
    /// read them.
    static func quotingNonFiniteNumbers(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var inString = false
        var escaped = false
        var index = 0
        let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if let token = tokens.first(where: { bytes[index...].starts(with: $0) }) {
                output.append(UInt8(ascii: "\""))
                output.append(contentsOf: token)
                output.append(UInt8(ascii: "\""))
                index += token.count
                continue
            }
            output.append(byte)
            index += 1
        }
        return Data(output)
    }
}
