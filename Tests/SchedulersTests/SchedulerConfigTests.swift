import Foundation
import Testing
@testable import Schedulers
import Tensors

struct SchedulerConfigTests {
    /// Stable Diffusion 1.5's scheduler_config.json as shipped (plus a key no scheduler takes).
    static let sd15JSON = """
    {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
     "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
     "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null,
     "clip_sample": false, "some_future_key": [1, 2]}
    """

    @Test func decodesDiffusersKeysAndIgnoresUnknownOnes() throws {
        let config = try SchedulerConfig.decode(Data(Self.sd15JSON.utf8))
        #expect(config.className == "PNDMScheduler")
        #expect(config.betaSchedule == "scaled_linear")
        #expect(config.betaStart == 0.00085)
        #expect(config.stepsOffset == 1)
        #expect(config.setAlphaToOne == false)
        #expect(config.skipPrkSteps == true)
        #expect(config.trainedBetas == nil)
        #expect(config.timestepSpacing == nil, "absent keys stay absent so each class applies its own default")
    }

    @Test func decodesPythonInfinity() throws {
        let config = try SchedulerConfig.decode(Data(#"{"lambda_min_clipped": -Infinity}"#.utf8))
        #expect(config.lambdaMinClipped == -Double.infinity)
    }

    @Test func loadsTheClassNamedInTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-sched-\(UUID().uuidString).json")
        try Data(Self.sd15JSON.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var scheduler = try SchedulerFactory.load(contentsOf: url)
        #expect(scheduler is PNDMScheduler)
        try scheduler.setTimesteps(10)
        // diffusers: PNDMScheduler.from_pretrained(sd15).set_timesteps(10).timesteps
        #expect(scheduler.timesteps == [901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1])
    }

    @Test func classDefaultsApplyPerSchedulerAsFromConfigDoes() throws {
        let config = try SchedulerConfig.decode(Data(Self.sd15JSON.utf8))
        var ddim = try SchedulerFactory.make(.ddim, config: config)
        var euler = try SchedulerFactory.make(.euler, config: config)
        try ddim.setTimesteps(4)
        try euler.setTimesteps(4)
        // DDIMScheduler.from_config(pndm.config): leading spacing + steps_offset 1.
        #expect(ddim.timesteps == [751, 501, 251, 1])
        // EulerDiscreteScheduler.from_config(pndm.config): its own default, linspace.
        #expect(euler.timesteps == [999, 666, 333, 0])
    }

    @Test func unknownNamesAndClassesAreErrors() throws {
        #expect(SchedulerName(parsing: "heun") == nil)
        var config = SchedulerConfig()
        config.className = "UniPCMultistepScheduler"
        #expect(throws: SchedulerError.unknownScheduler("UniPCMultistepScheduler")) {
            try SchedulerFactory.make(config: config)
        }
        #expect(SchedulerError.unknownScheduler("UniPCMultistepScheduler").errorDescription?
            .contains("DPMSolverMultistepScheduler") == true)
    }

    @Test func unsupportedOptionsAreRejectedNotIgnored() {
        var config = SchedulerConfig()
        config.thresholding = true
        #expect(throws: SchedulerError.unsupportedOption(scheduler: "DDIMScheduler", key: "thresholding", value: "true")) {
            try DDIMScheduler(config: config)
        }
        var cosine = SchedulerConfig()
        cosine.betaSchedule = "sigmoid"
        #expect(throws: SchedulerError.self) { try EulerDiscreteScheduler(config: cosine) }
        var dpm = SchedulerConfig()
        dpm.algorithmType = "dpmsolver"
        // diffusers raises too: dpmsolver with a zero final sigma divides by zero.
        #expect(throws: SchedulerError.self) { try DPMSolverMultistepScheduler(config: dpm) }
    }

    @Test func stepCountsAreValidated() throws {
        var scheduler = try DDIMScheduler(config: SchedulerConfig())
        #expect(throws: SchedulerError.invalidStepCount(requested: 0, trainTimesteps: 1000)) { try scheduler.setTimesteps(0) }
        #expect(throws: SchedulerError.invalidStepCount(requested: 1001, trainTimesteps: 1000)) { try scheduler.setTimesteps(1001) }
    }

    @Test func steppingBeforeSetTimestepsOrOffScheduleThrows() throws {
        let sample = Tensor(zeros: [1, 4, 2, 2])
        var ddim = try DDIMScheduler(config: SchedulerConfig())
        #expect(throws: SchedulerError.timestepsNotSet(scheduler: "DDIMScheduler")) {
            try ddim.step(modelOutput: sample, timestep: 999, sample: sample)
        }
        var euler = try EulerDiscreteScheduler(config: SchedulerConfig())
        try euler.setTimesteps(5)
        #expect(throws: SchedulerError.timestepNotInSchedule(scheduler: "EulerDiscreteScheduler", timestep: 500)) {
            try euler.scaleModelInput(sample, timestep: 500)
        }
        #expect(throws: SchedulerError.shapeMismatch(what: "elementwise operand", expected: [1, 4, 2, 2], got: [1, 4, 2, 3])) {
            try euler.step(modelOutput: Tensor(zeros: [1, 4, 2, 3]), timestep: 999, sample: sample)
        }
    }

    @Test func strengthKeepsTheLastStepsAndSetsTheBeginIndex() throws {
        var euler = try EulerDiscreteScheduler(config: SchedulerConfig())
        try euler.setTimesteps(10)
        // img2img get_timesteps: int(10 * 0.55) = 5 steps kept, t_start = 5.
        let kept = euler.timestepsForStrength(0.55, steps: 10)
        #expect(kept == Array(euler.timesteps.suffix(5)))
        // With the begin index set, add_noise uses sigma[5] whatever the timestep value.
        let noised = try euler.addNoise(original: Tensor(zeros: [1, 1, 1, 2]), noise: Tensor(repeating: 1, shape: [1, 1, 1, 2]),
                                        timestep: kept[0])
        #expect(noised.scalars == [euler.sigmas[5], euler.sigmas[5]])
    }
}

struct NonFiniteJSONTests {
    @Test func bareInfinityIsQuotedButStringsAreLeftAlone() throws {
        let text = #"{"a": -Infinity, "b": "say \"NaN\" Infinity", "c": NaN}"#
        let quoted = String(decoding: SchedulerConfig.quotingNonFiniteNumbers(Data(text.utf8)), as: UTF8.self)
        #expect(quoted == #"{"a": "-Infinity", "b": "say \"NaN\" Infinity", "c": "NaN"}"#)
    }
}
