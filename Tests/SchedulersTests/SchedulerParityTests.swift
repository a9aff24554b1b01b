import Foundation
import Testing
@testable import Schedulers
import Tensors

/// Whole denoising loops against diffusers 0.42.1 (tools/reference/scheduler_fixtures.py).
/// Every step feeds this implementation's own previous output forward, so errors would
/// accumulate; each prev_sample must agree within 1e-5, absolute for |x| <= 1 and relative
/// above (Euler-type latents reach ~15).
struct SchedulerParityTests {
    static let tolerance: Float = 1e-5

    /// What the factory builds for a case: by recipe name (with the case's eta), or, for cases
    /// that override keys the name fixes (solver order, algorithm), by class with the merged
    /// config; `ddim_inverse`, which no recipe names, by class.
    static func makeScheduler(_ testCase: SchedulerFixtures.Case) throws -> any Scheduler {
        let config = try SchedulerFixtures.config(testCase.configJSON)
        if testCase.scheduler == "ddim_inverse" { return try DDIMInverseScheduler(config: config) }
        if testCase.overrides.isEmpty {
            let name = try #require(SchedulerName(rawValue: testCase.scheduler), "\(testCase.name): scheduler name")
            return try SchedulerFactory.make(name, config: config, options: SchedulerOptions(eta: Float(testCase.eta ?? 0)))
        }
        let base: [String: Any] = testCase.scheduler.hasPrefix("dpmpp_2m")
            ? ["algorithm_type": "dpmsolver++", "solver_order": 2] : [:]
        let merged = try SchedulerFixtures.config(testCase.configJSON, merging: base.merging(testCase.overrides) { _, new in new })
        switch testCase.scheduler {
        case "euler": return try EulerDiscreteScheduler(config: merged)
        case "lms": return try LMSDiscreteScheduler(config: merged)
        default: return try DPMSolverMultistepScheduler(config: merged)
        }
    }

    @Test func fullLoopsMatchDiffusers() throws {
        let fixtures = try SchedulerFixtures.load()
        #expect(fixtures.cases.count >= 55)
        var comparedSteps = 0
        for testCase in fixtures.cases {
            comparedSteps += try runLoop(testCase, fixtures: fixtures)
        }
        #expect(comparedSteps > 400)
    }

    /// Runs one case as the fixture script did, with the scheduler `make` builds for it;
    /// returns how many steps were compared.
    func runLoop(_ testCase: SchedulerFixtures.Case, fixtures: SchedulerFixtures,
                 make: (SchedulerFixtures.Case) throws -> any Scheduler = makeScheduler) throws -> Int {
        let label = testCase.name
        var scheduler = try make(testCase)
        try scheduler.setTimesteps(testCase.steps)
        // Timesteps exactly (float32 values for Euler-type schedulers), except the fractional
        // ones interpolated from Karras sigmas in log space: numpy's float32 log is not
        // correctly rounded, so those agree to 1e-6 relative.
        if testCase.timesteps.allSatisfy({ $0 == $0.rounded() }) {
            #expect(scheduler.timesteps == testCase.timesteps, "\(label): timesteps")
        } else {
            #expect(scheduler.timesteps.count == testCase.timesteps.count, "\(label): timestep count")
            for (a, e) in zip(scheduler.timesteps, testCase.timesteps) {
                #expect(abs(a - e) <= 1e-6 * max(1, e), "\(label): timestep \(a) != \(e)")
            }
        }
        #expect(abs(scheduler.initNoiseSigma - Float(testCase.initNoiseSigma)) <= 1e-6 * max(1, Float(testCase.initNoiseSigma)),
                "\(label): init_noise_sigma")
        if let expectedSigmas = testCase.sigmas, let actual = Self.sigmas(of: scheduler) {
            #expect(actual.count == expectedSigmas.count, "\(label): sigma count")
            for (a, e) in zip(actual, expectedSigmas) where abs(Double(a) - e) > 1e-6 * max(1, abs(e)) {
                Issue.record("\(label): sigma \(a) != \(e)")
                break
            }
        }

        var generator = TorchGenerator(seed: testCase.seed)
        var latents: Tensor
        var timesteps = scheduler.timesteps
        if let strength = testCase.strength {
            timesteps = scheduler.timestepsForStrength(strength, steps: testCase.steps)
            #expect(scheduler.timesteps.count - timesteps.count == testCase.startIndex, "\(label): start index")
            let original = try fixtures.tensor("original", in: testCase)
            let noise = generator.randn(original.shape)
            #expect(noise == (try fixtures.tensor("noise", in: testCase)), "\(label): noise from TorchGenerator")
            latents = try scheduler.addNoise(original: original, noise: noise, timestep: timesteps[0])
            let error = maxScaledError(latents, try fixtures.tensor("noised", in: testCase))
            #expect(error <= Self.tolerance, "\(label): add_noise error \(error)")
        } else {
            let noise = generator.randn([1, 4, 8, 8])
            #expect(noise == (try fixtures.tensor("initial_noise", in: testCase)), "\(label): initial noise from TorchGenerator")
            latents = scheduler.initNoiseSigma * noise
        }
        #expect(timesteps.count == testCase.loopLength, "\(label): loop length")

        var compared = 0
        for (index, t) in timesteps.enumerated() {
            let input = try scheduler.scaleModelInput(latents, timestep: t)
            let output = try scheduler.step(modelOutput: fakeModel(input, timestep: t), timestep: t, sample: latents,
                                            generator: &generator)
            latents = output.prevSample
            let error = maxScaledError(latents, try fixtures.tensor("prev_sample_\(index)", in: testCase))
            #expect(error <= Self.tolerance, "\(label): step \(index) (t = \(t)) error \(error)")
            if let expected = testCase.tensors["pred_original_\(index)"] {
                let predicted = try #require(output.predOriginalSample, "\(label): pred_original_sample missing")
                let predError = maxScaledError(predicted, fixtures.tensor(expected))
                #expect(predError <= Self.tolerance, "\(label): step \(index) pred_original error \(predError)")
            }
            compared += 1
        }
        return compared
    }

    static func sigmas(of scheduler: any Scheduler) -> [Float]? {
        (scheduler as? any SigmaScheduler)?.sigmas
    }

    /// The recipe name `dpmpp_2m_sde` builds what the fixture script's `sde-dpmsolver++`
    /// override of DPM++ 2M ran, and matches it step for step.
    @Test func dpmpp2MSDEByNameMatchesDiffusers() throws {
        let fixtures = try SchedulerFixtures.load()
        let sde = try #require(fixtures.cases.first { $0.name == "dpmpp_2m_sde/sd15" })
        #expect(sde.overrides.keys.sorted() == ["algorithm_type"])
        #expect(try runLoop(sde.named("dpmpp_2m_sde"), fixtures: fixtures) == sde.loopLength)
    }

    @Test func trainingScheduleMatchesTorch() throws {
        let fixtures = try SchedulerFixtures.load()
        #expect(fixtures.schedules.count == 3)
        for (label, entry) in fixtures.schedules {
            let schedule = try NoiseSchedule(config: SchedulerFixtures.config(entry.config), scheduler: "test")
            let betas = fixtures.tensor(entry.betas).scalars
            let alphas = fixtures.tensor(entry.alphasCumprod).scalars
            #expect(schedule.betas.count == betas.count)
            let betaError = zip(schedule.betas, betas).map { abs($0 - $1) / $1 }.max() ?? .nan
            let alphaError = zip(schedule.alphasCumprod, alphas).map { abs($0 - $1) / $1 }.max() ?? .nan
            // torch.linspace (fused multiply-adds) and cumprod (double accumulator) reproduced bit for bit.
            #expect(betaError == 0, "\(label): betas relative error \(betaError)")
            #expect(alphaError == 0, "\(label): alphas_cumprod relative error \(alphaError)")
        }
    }
}
