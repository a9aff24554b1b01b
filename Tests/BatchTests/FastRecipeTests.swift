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
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let output = folder.appendingPathComponent("out")
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_MODEL"] = model.path
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-fast.yaml").path
    #expect(try runOverpaint(["validate", recipe], environment: environment).status == 0)
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", output.path], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let written = output.appendingPathComponent("astronaut-watercolor-fast.png")
    let ours = try ImageFile.read(written)
    let reference = try ImageFile.read(Fixtures.root.appendingPathComponent("fewstep/restyle_fast.png"))
    #expect(ours.width == reference.width && ours.height == reference.height)
    #expect(ImageFidelity.psnr(ours.samples, reference.samples, eightBit: true) >= 40)
    let parameters = try ImageFile.readTextChunks(written)["parameters"] ?? ""
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
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let recipe = folder.appendingPathComponent("skip.yaml")
    let fast = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("recipes/restyle-fast.yaml"), encoding: .utf8)
    try ("clip_skip: 2\n" + fast.replacingOccurrences(of: "${OVERPAINT_MODEL}", with: model.path))
        .write(to: recipe, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path])
    #expect(result.status == 0, "\(result.stderr)")
    let written = output.appendingPathComponent("astronaut-watercolor-fast.png")
    let reference = try ImageFile.read(Fixtures.root.appendingPathComponent("fewstep/restyle_fast.png"))
    #expect(try ImageFile.read(written) != reference)
    #expect(try ImageFile.readTextChunks(written)["parameters"]?.contains("Denoising strength: 0.5, Clip skip: 2, ") == true)
}
