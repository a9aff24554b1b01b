import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing
@testable import Batch

// The reference is tools/reference/depth_fixtures.py: its tiny Depth Anything model
// (Tests/Fixtures/depth/model), and StableDiffusionControlNetImg2ImgPipeline on the tiny
// pipeline of Tests/Fixtures/pipelines with the depth map transformers' depth-estimation
// pipeline made from input.png (controlnet_tiny standing in for a depth ControlNet).

/// The tiny pipeline, controlnet_tiny and the fixture's depth model (a test may name another),
/// as recipes/restyle-depth.yaml reads them, with the astronaut as the input.
private func depthRun(_ test: String = #function) throws -> RecipeRun {
    var run = try RecipeRun.tinyPipeline(test, modelNaming: .environment("OVERPAINT_MODEL"))
    run.environment["OVERPAINT_CONTROLNET_DEPTH"] = Fixtures.url("pipelines", "controlnet_tiny").path
    run.environment["OVERPAINT_DEPTH_MODEL"] = Fixtures.url("depth", "model").path
    return run
}

/// recipes/restyle-depth.yaml through `overpaint run` reproduces diffusers'
/// StableDiffusionControlNetImg2ImgPipeline fed the estimated depth map (restyle_depth.png).
@Test func restyleDepthRecipeMatchesDiffusersControlNetImg2Img() throws {
    let run = try depthRun()
    defer { run.remove() }
    try run.runSucceeding(Fixtures.recipe("restyle-depth"))
    let reference = try Fixtures.image("depth", "restyle_depth.png")
    #expect(ImageFidelity.psnr(try run.outputImage("astronaut-depth-restyled.png"), reference, eightBit: true) >= 40)
}

/// A missing depth model makes the recipe invalid: a located error, exit 2, nothing run.
@Test func missingDepthModelIsARecipeError() throws {
    var run = try depthRun()
    defer { run.remove() }
    let model = run.folder.appendingPathComponent("no-depth-model")
    run.environment["OVERPAINT_DEPTH_MODEL"] = model.path
    let result = try run.run(Fixtures.recipe("restyle-depth"))
    #expect(result.status == 2)
    #expect(result.stderr.contains("depth_model: no model at \(model.path)"), "\(result.stderr)")
}

/// A depth model that does not load stops the run before any image (exit 2), with one line
/// naming the recipe key and the model.
@Test func brokenDepthModelStopsTheRunWithOneLine() throws {
    var run = try depthRun()
    defer { run.remove() }
    let model = run.folder.appendingPathComponent("broken-depth-model")
    try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
    try Data("{\"neck_hidden_sizes\": \"wide\"}".utf8).write(to: model.appendingPathComponent("config.json"))
    run.environment["OVERPAINT_DEPTH_MODEL"] = model.path
    let result = try run.run(Fixtures.recipe("restyle-depth"))
    #expect(result.status == 2)
    let lines = result.stderr.split(separator: "\n").filter { $0.contains("depth_model") }
    #expect(lines.count == 1, "\(result.stderr)")
    #expect(lines.first?.contains("edits[0].img2img.control[0].depth_model: depth_model '\(model.path)'") == true, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: run.output.path))
}
