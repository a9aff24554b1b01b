import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing

/// recipes/restyle-fast.yaml, whose settings are the reference case of
/// tools/reference/fewstep_scheduler_fixtures.py: through `overpaint run` it reproduces
/// diffusers' StableDiffusionImg2ImgPipeline with LCMScheduler.from_config (8 steps, strength
/// 0.5, guidance 1), its A1111-weighted prompt encoded as a1111_prompt_fixtures.py does.
@Test func restyleFastRecipeMatchesDiffusersLCMImg2Img() throws {
    let run = try RecipeRun.tinyPipeline(modelNaming: .environment("OVERPAINT_MODEL"))
    defer { run.remove() }
    let parameters = try run.runShippedRecipe("restyle-fast", expecting: "astronaut-watercolor-fast.png",
                                              toMatch: try Fixtures.image("fewstep", "restyle_fast.png"))
    let lines = parameters.split(separator: "\n")
    #expect(lines.first == "a watercolor painting, (soft washes of colour:1.2), [photo], paper texture")
    #expect(lines.last?.hasPrefix("Steps: 8, Sampler: LCM, Schedule type: Automatic, CFG scale: 1.0, Seed: 42, Size: 64x64, ") == true)
    #expect(parameters.contains("Denoising strength: 0.5, Version:"))
}

/// Every recipe shipped in recipes/ is run by some test here, by its name.
@Test func everyRecipeIsRunByATest() throws {
    let recipes = try FileManager.default.contentsOfDirectory(atPath: Fixtures.packageRoot.appendingPathComponent("recipes").path)
        .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
    let tests = Fixtures.packageRoot.appendingPathComponent("Tests/BatchTests")
    let sources = try FileManager.default.contentsOfDirectory(atPath: tests.path).filter { $0.hasSuffix(".swift") }
        .map { try String(contentsOf: tests.appendingPathComponent($0), encoding: .utf8) }.joined()
    #expect(recipes.count >= 10)
    for recipe in recipes {
        #expect(sources.contains("recipes/\(recipe).yaml") || sources.contains("\"\(recipe)\""), "\(recipe)")
    }
}

/// A1111's `clip_skip: 2` reaches the text encoder as diffusers' clip_skip 1 (the image
/// changes) and is recorded as A1111 records it.
@Test func clipSkipChangesTheImageAndIsRecorded() throws {
    let run = try RecipeRun.tinyPipeline(modelNaming: .inRecipe)
    defer { run.remove() }
    let fast = try String(contentsOf: Fixtures.recipe("restyle-fast"), encoding: .utf8)
    let recipe = try run.recipe("clip_skip: 2\n" + fast.replacingOccurrences(of: "${OVERPAINT_MODEL}", with: try #require(run.model).path),
                                named: "skip.yaml")
    try run.runSucceeding(recipe)
    let reference = try Fixtures.image("fewstep", "restyle_fast.png")
    #expect(try run.outputImage("astronaut-watercolor-fast.png") != reference)
    #expect(try run.outputParameters("astronaut-watercolor-fast.png").contains("Denoising strength: 0.5, Clip skip: 2, "))
}
