import Testing
@testable import Schedulers

/// The one scheduler vocabulary: recipe names, A1111's names and the classes they build.
struct SchedulerNameTests {
    /// Every name as a recipe writes it and as A1111 shows it, and the class it builds.
    static let expected: [(recipe: String, a1111: String, name: SchedulerName, className: String)] = [
        ("ddim", "DDIM", .ddim, "DDIMScheduler"),
        ("ddpm", "DDPM", .ddpm, "DDPMScheduler"),
        ("pndm", "PLMS", .pndm, "PNDMScheduler"),
        ("euler", "Euler", .euler, "EulerDiscreteScheduler"),
        ("euler_a", "Euler a", .eulerAncestral, "EulerAncestralDiscreteScheduler"),
        ("lms", "LMS", .lms, "LMSDiscreteScheduler"),
        ("dpmpp_2m", "DPM++ 2M", .dpmpp2M, "DPMSolverMultistepScheduler"),
        ("dpmpp_2m_karras", "DPM++ 2M Karras", .dpmpp2MKarras, "DPMSolverMultistepScheduler"),
        ("dpmpp_2m_sde", "DPM++ 2M SDE", .dpmpp2MSDE, "DPMSolverMultistepScheduler"),
        ("lcm", "LCM", .lcm, "LCMScheduler"),
        ("tcd", "TCD", .tcd, "TCDScheduler"),
    ]

    @Test func everyCaseIsListed() {
        #expect(SchedulerName.allCases == Self.expected.map(\.name))
    }

    @Test(arguments: expected.indices)
    func parsesBothSpellingsAndBuildsItsClass(_ index: Int) throws {
        let entry = Self.expected[index]
        #expect(SchedulerName(parsing: entry.recipe) == entry.name)
        #expect(SchedulerName(parsing: entry.a1111) == entry.name)
        #expect(SchedulerName(parsing: entry.a1111.uppercased()) == entry.name)
        #expect(SchedulerName(parsing: entry.a1111.lowercased()) == entry.name)
        #expect(entry.name.rawValue == entry.recipe && entry.name.displayName == entry.a1111)
        #expect(entry.name.className == entry.className)
        let scheduler = try SchedulerFactory.make(entry.name, config: SchedulerConfig())
        #expect(String(describing: type(of: scheduler)) == entry.className)
    }

    @Test func dpmSolverNamesFixAlgorithmOrderAndSigmas() {
        var config = SchedulerConfig()
        config.algorithmType = "dpmsolver"
        config.solverOrder = 3
        let plain = SchedulerName.dpmpp2M.configured(config)
        #expect(plain.algorithmType == "dpmsolver++" && plain.solverOrder == 2 && plain.useKarrasSigmas == nil)
        let karras = SchedulerName.dpmpp2MKarras.configured(config)
        #expect(karras.algorithmType == "dpmsolver++" && karras.solverOrder == 2 && karras.useKarrasSigmas == true)
        let sde = SchedulerName.dpmpp2MSDE.configured(config)
        #expect(sde.algorithmType == "sde-dpmsolver++" && sde.solverOrder == 2 && sde.useKarrasSigmas == nil)
        #expect(SchedulerName.euler.configured(config) == config)
    }

    @Test func aModelsOwnClassReadsAsItsPlainSampler() {
        #expect(SchedulerName(className: "PNDMScheduler") == .pndm)
        #expect(SchedulerName(className: "DPMSolverMultistepScheduler") == .dpmpp2M)
        #expect(SchedulerName(className: "DDIMInverseScheduler") == nil)
    }

    @Test func etaReachesDDIMThroughTheOptions() throws {
        let options = SchedulerOptions(eta: 0.5)
        let named = try #require(try SchedulerFactory.make(.ddim, config: SchedulerConfig(), options: options) as? DDIMScheduler)
        #expect(named.eta == 0.5)
        var config = SchedulerConfig()
        config.className = "DDIMScheduler"
        let own = try #require(try SchedulerFactory.make(config: config, options: options) as? DDIMScheduler)
        #expect(own.eta == 0.5)
    }

    /// As diffusers' pipelines pass their `eta` to TCD's `step`, the option is TCD's gamma.
    @Test func etaIsTCDsGamma() throws {
        let tcd = try #require(try SchedulerFactory.make(.tcd, config: SchedulerConfig(), options: SchedulerOptions(eta: 0.7))
            as? TCDScheduler)
        #expect(tcd.gamma == 0.7)
        #expect(try TCDScheduler(config: SchedulerConfig()).gamma == 0.3)
        #expect(throws: SchedulerError.unsupportedOption(scheduler: "TCDScheduler", key: "eta (gamma)", value: "1.5")) {
            try TCDScheduler(config: SchedulerConfig(), gamma: 1.5)
        }
    }
}
