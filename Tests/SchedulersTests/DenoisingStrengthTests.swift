import Testing
@testable import Schedulers

/// The strength rule the recipe reader and the pipelines share.
struct DenoisingStrengthTests {
    /// diffusers' `get_timesteps`: `min(int(steps * strength), steps)` steps run.
    @Test func stepsRunAsGetTimestepsKeepsThem() {
        #expect(DenoisingStrength.stepsRun(0.75, of: 10) == 7)
        #expect(DenoisingStrength.stepsRun(0.02, of: 10) == 0)
        #expect(DenoisingStrength.stepsRun(0, of: 30) == 0)
        #expect(DenoisingStrength.stepsRun(-0.5, of: 30) == 0)
        #expect(DenoisingStrength.stepsRun(1.5, of: 30) == 30)
        #expect(DenoisingStrength.stepsRun(.nan, of: 30) == 0)
    }

    @Test func minimumIsTheSmallestThousandthThatRunsAStep() {
        #expect(DenoisingStrength.minimum(for: 30) == 0.034)
        #expect(DenoisingStrength.minimum(for: 10) == 0.1)
        #expect(DenoisingStrength.minimum(for: 1) == 1)
        for steps in 1...1000 {
            let minimum = DenoisingStrength.minimum(for: steps)
            #expect(DenoisingStrength.stepsRun(minimum, of: steps) >= 1, "steps \(steps)")
            #expect(DenoisingStrength.stepsRun(minimum - 0.001, of: steps) == 0, "steps \(steps)")
        }
    }
}
