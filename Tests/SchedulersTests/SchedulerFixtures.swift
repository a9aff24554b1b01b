import Foundation
import OverpaintTestSupport
@testable import Schedulers
import Tensors

/// The reference loops written by tools/reference/scheduler_fixtures.py (`cases`) and
/// fewstep_scheduler_fixtures.py (`fewstep`), diffusers 0.42.1.
struct SchedulerFixtures {
    struct TensorRef {
        let offset: Int
        let shape: [Int]
    }

    struct Case {
        let name: String
        let scheduler: String
        let configJSON: [String: Any]
        let overrides: [String: Any]
        let steps: Int
        let seed: UInt64
        let timesteps: [Double]
        let sigmas: [Double]?
        let initNoiseSigma: Double
        let eta: Double?
        let strength: Double?
        let startIndex: Int?
        let loopLength: Int
        let tensors: [String: TensorRef]

        /// This case built by the recipe name `scheduler`, with no overrides.
        func named(_ scheduler: String) -> Case {
            Case(name: name, scheduler: scheduler, configJSON: configJSON, overrides: [:], steps: steps, seed: seed,
                 timesteps: timesteps, sigmas: sigmas, initNoiseSigma: initNoiseSigma, eta: eta, strength: strength,
                 startIndex: startIndex, loopLength: loopLength, tensors: tensors)
        }
    }

    let cases: [Case]
    let schedules: [String: (config: [String: Any], alphasCumprod: TensorRef, betas: TensorRef)]
    private let floats: [Float]

    enum FixtureError: Error { case malformed(String) }

    static func load(_ name: String = "cases") throws -> SchedulerFixtures {
        let folder = Fixtures.root.appendingPathComponent("schedulers")
        let json = try Data(contentsOf: folder.appendingPathComponent("\(name).json"))
        let floats = littleEndianFloat32s(try Data(contentsOf: folder.appendingPathComponent("\(name).bin")))
        guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
              let rawCases = root["cases"] as? [[String: Any]],
              let rawSchedules = root["schedules"] as? [String: [String: Any]] else {
            throw FixtureError.malformed("cases.json")
        }
        func ref(_ any: Any?) throws -> TensorRef {
            guard let dict = any as? [String: Any], let offset = dict["offset"] as? Int, let shape = dict["shape"] as? [Int] else {
                throw FixtureError.malformed("tensor reference")
            }
            return TensorRef(offset: offset, shape: shape)
        }
        let cases = try rawCases.map { raw -> Case in
            guard let name = raw["name"] as? String, let scheduler = raw["scheduler"] as? String,
                  let config = raw["config"] as? [String: Any], let steps = raw["steps"] as? Int,
                  let seed = raw["seed"] as? Int, let timesteps = raw["timesteps"] as? [Double],
                  let initNoiseSigma = raw["init_noise_sigma"] as? Double, let loopLength = raw["loop_length"] as? Int,
                  let tensors = raw["tensors"] as? [String: Any] else {
                throw FixtureError.malformed("case \(raw["name"] ?? "?")")
            }
            return Case(name: name, scheduler: scheduler, configJSON: config,
                        overrides: raw["overrides"] as? [String: Any] ?? [:], steps: steps, seed: UInt64(seed),
                        timesteps: timesteps, sigmas: raw["sigmas"] as? [Double], initNoiseSigma: initNoiseSigma,
                        eta: raw["eta"] as? Double, strength: raw["strength"] as? Double,
                        startIndex: raw["start_index"] as? Int, loopLength: loopLength,
                        tensors: try tensors.mapValues { try ref($0) })
        }
        let schedules = try rawSchedules.mapValues { raw in
            (config: raw["config"] as? [String: Any] ?? [:], alphasCumprod: try ref(raw["alphas_cumprod"]), betas: try ref(raw["betas"]))
        }
        return SchedulerFixtures(cases: cases, schedules: schedules, floats: floats)
    }

    func tensor(_ ref: TensorRef) -> Tensor {
        let count = ref.shape.reduce(1, *)
        return Tensor(shape: ref.shape, scalars: Array(floats[ref.offset..<(ref.offset + count)]))
    }

    func tensor(_ name: String, in testCase: Case) throws -> Tensor {
        guard let ref = testCase.tensors[name] else { throw FixtureError.malformed("\(testCase.name): no tensor \(name)") }
        return tensor(ref)
    }

    static func config(_ json: [String: Any], merging overrides: [String: Any] = [:]) throws -> SchedulerConfig {
        let merged = json.merging(overrides) { _, new in new }
        return try SchedulerConfig.decode(JSONSerialization.data(withJSONObject: merged))
    }
}

/// The stand-in denoiser of the fixture script:
/// `0.1 * sample + 0.5 * sin(0.01 * t + 0.1 * i)` (the sine in float64, then float32).
func fakeModel(_ sample: Tensor, timestep: Double) -> Tensor {
    var scalars = sample.scalars
    for index in scalars.indices {
        let phase = Float(sin(0.01 * timestep + 0.1 * Double(index)))
        scalars[index] = Float(0.1) * scalars[index] + Float(0.5) * phase
    }
    return Tensor(shape: sample.shape, scalars: scalars)
}

/// The largest of |a - b| / max(1, |b|): absolute below 1, relative above.
func maxScaledError(_ actual: Tensor, _ expected: Tensor) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    var worst: Float = 0
    for (a, b) in zip(actual.scalars, expected.scalars) {
        let error = abs(a - b) / max(1, abs(b))
        if error.isNaN { return .nan }
        worst = max(worst, error)
    }
    return worst
}
