import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing
@testable import Batch

/// RECIPES.md's parity promise for `upscale` with an SD x4 upscaler folder, through
/// `overpaint run`: StableDiffusionUpscalePipeline with torch.Generator("cpu").manual_seed(0)
/// (tools/reference/x4_upscaler_fixtures.py, case "default"; `tile: 0` runs the image whole).
@Test func sdUpscaleThroughTheCommandLineMatchesDiffusers() throws {
    let run = try RecipeRun()
    defer { run.remove() }
    let model = try tinyUpscalerFolder(in: run.folder)
    try FileManager.default.createDirectory(at: run.input, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.url("upscaler", "input.png"), to: run.input.appendingPathComponent("cat.png"))
    try run.runSucceeding(try run.oneEditRecipe("""
        upscale: {model: \(model.path), prompt: "a white cat", steps: 6, guidance: 9, noise_level: 20, tile: 0}
        """, seed: 0, named: "upscale.yaml"))
    let ours = try run.outputImage("cat.png")
    let reference = try Fixtures.image("upscaler", "default.png")
    #expect(ours.width == 64 && ours.height == 64 && ours.width == reference.width && ours.height == reference.height)
    let psnr = ImageFidelity.psnr(ours.samples, reference.samples)
    #expect(psnr >= 40, "PSNR \(psnr) dB")
    let parameters = try run.outputParameters("cat.png")
    let lines = parameters.split(separator: "\n")
    #expect(lines.first == "a white cat")
    #expect(lines.last?.hasPrefix("Steps: 6, Sampler: DDIM, Schedule type: Automatic, CFG scale: 9.0, Seed: 0, Size: 64x64, Model hash: ") == true)
    #expect(parameters.contains("Model: x4-tiny"))
    let packet = try #require(try XMPReading.packet(inFileAt: run.output.appendingPathComponent("cat.png")))
    #expect(packet.contains("digitalsourcetype/compositeWithTrainedAlgorithmicMedia<"), "diffusion adds detail")
}

/// A folder that is a pipeline but not an upscaler stops the run before any image, with a reason.
@Test func aNonUpscalerFolderIsRefusedWithAReason() throws {
    let run = try RecipeRun()
    defer { run.remove() }
    try write(testPhoto(width: 16, height: 16), run.input.appendingPathComponent("a.png"))
    let sd = Fixtures.url("pipelines", "sd-tiny")
    let result = try run.run(try run.oneEditRecipe("upscale: {model: \(sd.path)}", named: "upscale.yaml"))
    #expect(result.status == 2)
    #expect(result.stderr.contains("not an SD x4 upscaler"), "\(result.stderr)")
}

/// A transparent image, tiled: colour goes through the upscaler tile by tile, alpha is enlarged
/// with bicubic interpolation (a constant alpha stays that constant).
@Test func sdUpscaleKeepsAlphaAndRunsTiled() throws {
    let run = try RecipeRun()
    defer { run.remove() }
    let model = try tinyUpscalerFolder(in: run.folder)
    var photo = testPhoto(width: 16, height: 16, channels: 4)
    for pixel in 0..<photo.pixelCount { photo.samples[pixel * 4 + 3] = 128.0 / 255 }
    try write(photo, run.input.appendingPathComponent("a.png"))
    try run.runSucceeding(try run.oneEditRecipe("""
        upscale: {model: \(model.path), prompt: "a white cat", steps: 2, tile: 8, tile_overlap: 2}
        """, named: "upscale.yaml"))
    let upscaled = try run.outputImage("a.png")
    #expect(upscaled.width == 64 && upscaled.height == 64 && upscaled.channels == 4)
    #expect((0..<upscaled.pixelCount).allSatisfy { abs(upscaled.samples[$0 * 4 + 3] * 255 - 128) < 0.5 })
    #expect(!upscaled.samples.contains { $0.isNaN })
}

/// A bare name finds an SD x4 upscaler folder in models/ beside the recipe, as it finds the
/// fetched Real-ESRGAN files; a Real-ESRGAN file of the same name there comes first.
@Test func aBareNameFindsAnUpscalerFolderInModels() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let models = folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    let model = try tinyUpscalerFolder(in: models)
    let recipe = folder.appendingPathComponent("upscale.yaml")
    #expect(ModelCache.resolveUpscaler("x4-tiny", recipe: recipe) == model.path)
    #expect(ModelCache.resolveUpscaler("x4-missing", recipe: recipe) == nil)
    let file = models.appendingPathComponent("x4-tiny.safetensors")
    FileManager.default.createFile(atPath: file.path, contents: Data())
    #expect(ModelCache.resolveUpscaler("x4-tiny", recipe: recipe) == file.path)
}
