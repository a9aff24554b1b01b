import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// RECIPES.md's parity promise for `upscale` with an SD x4 upscaler folder, through
/// `overpaint run`: StableDiffusionUpscalePipeline with torch.Generator("cpu").manual_seed(0)
/// (tools/reference/x4_upscaler_fixtures.py, case "default"; `tile: 0` runs the image whole).
@Test func sdUpscaleThroughTheCommandLineMatchesDiffusers() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyUpscalerFolder(in: folder)
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    let fixtures = Fixtures.root.appendingPathComponent("upscaler")
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("input.png"), to: input.appendingPathComponent("cat.png"))
    let recipeURL = folder.appendingPathComponent("upscale.yaml")
    try """
    seed: 0
    match: {images: ["*.png"]}
    edits:
      - upscale: {model: \(model.path), prompt: "a white cat", steps: 6, guidance: 9, noise_level: 20, tile: 0}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path])
    #expect(result.status == 0, "\(result.stderr)")
    let ours = try ImageFile.read(output.appendingPathComponent("cat.png"))
    let reference = try ImageFile.read(fixtures.appendingPathComponent("default.png"))
    #expect(ours.width == 64 && ours.height == 64 && ours.width == reference.width && ours.height == reference.height)
    let squared = zip(ours.samples, reference.samples).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
    let psnr = squared == 0 ? .infinity : 10 * log10(Double(ours.samples.count) / squared)
    #expect(psnr >= 40, "PSNR \(psnr) dB")
    let parameters = try ImageFile.readTextChunks(output.appendingPathComponent("cat.png"))["parameters"] ?? ""
    let lines = parameters.split(separator: "\n")
    #expect(lines.first == "a white cat")
    #expect(lines.last?.hasPrefix("Steps: 6, Sampler: DDIM, Schedule type: Automatic, CFG scale: 9.0, Seed: 0, Size: 64x64, Model hash: ") == true)
    #expect(parameters.contains("Model: x4-tiny"))
    let packet = try #require(try XMPReading.packet(inFileAt: output.appendingPathComponent("cat.png")))
    #expect(packet.contains("digitalsourcetype/compositeWithTrainedAlgorithmicMedia<"), "diffusion adds detail")
}

/// A folder that is a pipeline but not an upscaler stops the run before any image, with a reason.
@Test func aNonUpscalerFolderIsRefusedWithAReason() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("a.png"))
    let sd = Fixtures.root.appendingPathComponent("pipelines/sd-tiny")
    let recipeURL = folder.appendingPathComponent("upscale.yaml")
    try """
    match: {images: ["*.png"]}
    edits:
      - upscale: {model: \(sd.path)}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", folder.appendingPathComponent("out").path])
    #expect(result.status == 2)
    #expect(result.stderr.contains("not an SD x4 upscaler"), "\(result.stderr)")
}

/// A transparent image, tiled: colour goes through the upscaler tile by tile, alpha is enlarged
/// with bicubic interpolation (a constant alpha stays that constant).
@Test func sdUpscaleKeepsAlphaAndRunsTiled() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyUpscalerFolder(in: folder)
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    var photo = testPhoto(width: 16, height: 16, channels: 4)
    for pixel in 0..<photo.pixelCount { photo.samples[pixel * 4 + 3] = 128.0 / 255 }
    try write(photo, input.appendingPathComponent("a.png"))
    let recipeURL = folder.appendingPathComponent("upscale.yaml")
    try """
    match: {images: ["*.png"]}
    edits:
      - upscale: {model: \(model.path), prompt: "a white cat", steps: 2, tile: 8, tile_overlap: 2}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path])
    #expect(result.status == 0, "\(result.stderr)")
    let upscaled = try ImageFile.read(output.appendingPathComponent("a.png"))
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
