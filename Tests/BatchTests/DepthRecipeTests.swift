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

private let fixtures = Fixtures.root
private let depthModel = fixtures.appendingPathComponent("depth/model")

private func depthEnvironment(model: URL, depthModel: String) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_MODEL"] = model.path
    environment["OVERPAINT_CONTROLNET_DEPTH"] = fixtures.appendingPathComponent("pipelines/controlnet_tiny").path
    environment["OVERPAINT_DEPTH_MODEL"] = depthModel
    return environment
}

/// recipes/restyle-depth.yaml through `overpaint run` reproduces diffusers'
/// StableDiffusionControlNetImg2ImgPipeline fed the estimated depth map (restyle_depth.png).
@Test func restyleDepthRecipeMatchesDiffusersControlNetImg2Img() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try astronautInput(in: folder)
    let output = folder.appendingPathComponent("out")
    let environment = depthEnvironment(model: try tinyPipelineFolder(in: folder), depthModel: depthModel.path)
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-depth.yaml").path
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", output.path], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let ours = try ImageFile.read(output.appendingPathComponent("astronaut-depth-restyled.png"))
    let reference = try ImageFile.read(fixtures.appendingPathComponent("depth/restyle_depth.png"))
    #expect(ImageFidelity.psnr(ours, reference, eightBit: true) >= 40)
}

/// A missing depth model makes the recipe invalid: a located error, exit 2, nothing run.
@Test func missingDepthModelIsARecipeError() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try astronautInput(in: folder)
    let model = folder.appendingPathComponent("no-depth-model")
    let environment = depthEnvironment(model: try tinyPipelineFolder(in: folder), depthModel: model.path)
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-depth.yaml").path
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", folder.appendingPathComponent("out").path],
                                  environment: environment)
    #expect(result.status == 2)
    #expect(result.stderr.contains("depth_model: no model at \(model.path)"), "\(result.stderr)")
}

/// A depth model that does not load stops the run before any image (exit 2), with one line
/// naming the recipe key and the model.
@Test func brokenDepthModelStopsTheRunWithOneLine() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try astronautInput(in: folder)
    let model = folder.appendingPathComponent("broken-depth-model")
    try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
    try Data("{\"neck_hidden_sizes\": \"wide\"}".utf8).write(to: model.appendingPathComponent("config.json"))
    let environment = depthEnvironment(model: try tinyPipelineFolder(in: folder), depthModel: model.path)
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-depth.yaml").path
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", folder.appendingPathComponent("out").path],
                                  environment: environment)
    #expect(result.status == 2)
    let lines = result.stderr.split(separator: "\n").filter { $0.contains("depth_model") }
    #expect(lines.count == 1, "\(result.stderr)")
    #expect(lines.first?.contains("edits[0].img2img.control[0].depth_model: depth_model '\(model.path)'") == true, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out").path))
}
