import Foundation
import Testing
@testable import Schedulers
import Tensors

/// LCM, TCD and SDXL-Turbo's trailing Euler ancestral against diffusers 0.42.1
/// (tools/reference/fewstep_scheduler_fixtures.py), loop for loop at the parity tests' 1e-5.
struct FewStepSchedulerTests {
    /// What a pipeline builds for a case: the model config's own class ("own"), TCD without
    /// an eta as diffusers' default gamma, else the recipe name with the case's eta.
    static func makeScheduler(_ testCase: SchedulerFixtures.Case) throws -> any Scheduler {
        let config = try SchedulerFixtures.config(testCase.configJSON, merging: testCase.overrides)
        if testCase.scheduler == "own" { return try SchedulerFactory.make(config: config) }
        if testCase.scheduler == "tcd" && testCase.eta == nil { return try TCDScheduler(config: config) }
        let name = try #require(SchedulerName(rawValue: testCase.scheduler), "\(testCase.name): scheduler name")
        return try SchedulerFactory.make(name, config: config, options: SchedulerOptions(eta: Float(testCase.eta ?? 0)))
    }

    @Test func fewStepLoopsMatchDiffusers() throws {
        let fixtures = try SchedulerFixtures.load("fewstep")
        #expect(fixtures.cases.count == 24)
        var compared: [String: Int] = [:]
        for testCase in fixtures.cases {
            let family = String(testCase.name.prefix { $0 != "/" })
            compared[family, default: 0] += try SchedulerParityTests().runLoop(testCase, fixtures: fixtures,
                                                                                 make: Self.makeScheduler)
        }
        #expect(compared == ["lcm": 97, "tcd": 31, "turbo": 10])
    }

    /// SDXL-Turbo's own config builds Euler ancestral with trailing timesteps and the
    /// largest sigma as the initial noise scale, as diffusers loads it.
    @Test func turboConfigIsTrailingEulerAncestral() throws {
        let fixtures = try SchedulerFixtures.load("fewstep")
        let turbo = try #require(fixtures.cases.first { $0.name == "turbo/euler_a_4" })
        var scheduler = try Self.makeScheduler(turbo)
        #expect(scheduler is EulerAncestralDiscreteScheduler)
        try scheduler.setTimesteps(4)
        #expect(scheduler.timesteps == [999, 749, 499, 249])
        #expect(scheduler.initNoiseSigma == Float(turbo.initNoiseSigma))
    }

    /// LCM's timesteps are picked from the distillation schedule, whatever the spacing says.
    @Test func distilledTimestepsIgnoreSpacingAndOffset() throws {
        var config = SchedulerConfig()
        for spacing in ["leading", "trailing", "linspace"] {
            config.timestepSpacing = spacing
            config.stepsOffset = 1
            var lcm = try LCMScheduler(config: config)
            try lcm.setTimesteps(4)
            #expect(lcm.timesteps == [999, 759, 499, 259], "\(spacing)")
        }
        #expect(try LCMScheduler.distilledTimesteps(3, originalSteps: 10, trainTimesteps: 1000, scheduler: "LCM")
                == [999, 699, 399])
    }

    @Test func stepCountsBeyondTheDistillationScheduleAreRefused() throws {
        var lcm = try LCMScheduler(config: SchedulerConfig())
        #expect(throws: SchedulerError.exceedsDistillationSchedule(scheduler: "LCMScheduler", requested: 51, originalSteps: 50)) {
            try lcm.setTimesteps(51)
        }
        #expect(throws: SchedulerError.invalidStepCount(requested: 0, trainTimesteps: 1000)) { try lcm.setTimesteps(0) }
        var config = SchedulerConfig()
        config.originalInferenceSteps = 2000
        var tcd = try TCDScheduler(config: config)
        #expect(throws: SchedulerError.unsupportedOption(scheduler: "TCDScheduler", key: "original_inference_steps", value: "2000")) {
            try tcd.setTimesteps(4)
        }
    }

    /// The last inference step returns the denoised sample and draws no noise, also when an
    /// img2img loop begins mid-schedule; a later step is past the end.
    @Test func theLastStepDrawsNoNoise() throws {
        var lcm = try LCMScheduler(config: SchedulerConfig())
        try lcm.setTimesteps(4)
        let timesteps = lcm.timestepsForStrength(0.5, steps: 4)
        #expect(timesteps == [499, 259])
        var generator = TorchGenerator(seed: 1)
        let sample = Tensor(shape: [1, 4, 2, 2], scalars: (0..<16).map { Float($0) / 16 })
        _ = try lcm.step(modelOutput: sample, timestep: 499, sample: sample, generator: &generator)
        let afterFirst = generator
        let last = try lcm.step(modelOutput: sample, timestep: 259, sample: sample, generator: &generator)
        #expect(generator.randn([1]) == afterFirst.randnCopy([1]))
        #expect(last.prevSample == last.predOriginalSample)
        #expect(throws: SchedulerError.stepPastEnd(scheduler: "LCMScheduler", index: 4)) {
            try lcm.step(modelOutput: sample, timestep: 259, sample: sample)
        }
    }
}

private extension TorchGenerator {
    /// The next draw of a copy, leaving this generator as it is.
    func randnCopy(_ shape: [Int]) -> Tensor {
        var copy = self
        return copy.randn(shape)
    }
}
