import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// `edit` with `control` through `overpaint run` (ControlledEditTests has the parity): the
/// Canny ControlNet changes the edit, and the output keeps the input's size.
@Test func controlledEditRecipeRuns() throws {
    let (run, _) = try InpaintRecipeTests.maskedRun(xs: 0...0, ys: 0...0)
    defer { run.remove() }
    var results: [Image] = []
    for (index, control) in InpaintRecipeTests.withoutAndWithCannyControl(scale: "0.8").enumerated() {
        let recipe = try run.oneEditRecipe("""
            edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting", steps: 4\(control)}
            """, seed: 42, named: "edit\(index).yaml")
        let (before, after) = try InpaintRecipeTests.validateAndRun(recipe, run.writing(to: "run\(index)/out"))
        #expect(after.width == before.width && after.height == before.height)
        #expect(!after.samples.contains { $0.isNaN })
        results.append(after)
    }
    #expect(results[0] != results[1])
}
