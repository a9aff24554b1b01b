import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

// RECIPES.md's parity table through `overpaint run`, for the rows the other command-line
// tests do not cover: inpaint (4- and 9-channel UNets) and edit. References are
// tools/reference/pipeline_fixtures.py and inversion_fixtures.py on the tiny pipeline.

private let fixtures = Fixtures.root.appendingPathComponent("pipelines")

private func peakSignalToNoise(_ squaredError: Double, count: Int) -> Double {
    squaredError == 0 ? .infinity : 10 * log10(Double(count) / squaredError)
}

private func run(_ recipe: String, model: URL, in folder: URL) throws -> Image {
    let recipeURL = folder.appendingPathComponent("recipe.yaml")
    try recipe.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", try astronautInput(in: folder, withMask: true).path,
                                   "--output", output.path, "--model", model.path])
    #expect(result.status == 0, "\(result.stderr)")
    return try ImageFile.read(output.appendingPathComponent("astronaut.png"))
}

/// With `mask_blur: 0`, pixels where the mask is 0 are the input's and pixels where it is 1
/// match StableDiffusionInpaintPipeline (cases inpaint_4ch: ordinary UNet, latent blending;
/// inpaint_9ch: the inpainting UNet).
@Test(arguments: [("inpaint_4ch", 0.75, false), ("inpaint_9ch", 1.0, true)])
func inpaintThroughTheCommandLineMatchesDiffusers(_ reference: String, _ strength: Double, _ inpaintingUNet: Bool) throws {
    let folder = try makeScratchFolder("\(#function)-\(reference)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder, unet: inpaintingUNet ? "unet-inpaint" : nil)
    let ours = try run("""
        seed: 7
        match: {images: ["*.png"], mask: "masks/{stem}.png"}
        edits:
          - inpaint: {prompt: "An astronaut in a garden, oil painting", strength: \(strength), steps: 10,
                      guidance: 7.5, mask_blur: 0}
        """, model: model, in: folder)
    let input = try ImageFile.read(fixtures.appendingPathComponent("input.png"))
    let mask = try ImageFile.read(fixtures.appendingPathComponent("mask.png"))
    let expected = try ImageFile.read(fixtures.appendingPathComponent("\(reference).png"))
    #expect(ours.width == expected.width && ours.height == expected.height)
    var keptDiffering = 0
    var squaredError = 0.0
    var repainted = 0
    for y in 0..<ours.height {
        for x in 0..<ours.width {
            for channel in 0..<3 {
                if mask[x, y, 0] < 0.5 {
                    if ours[x, y, channel] != input[x, y, channel] { keptDiffering += 1 }
                } else {
                    let difference = Double(ours[x, y, channel] - expected[x, y, channel])
                    squaredError += difference * difference
                    repainted += 1
                }
            }
        }
    }
    #expect(repainted > 0)
    #expect(keptDiffering == 0)
    #expect(peakSignalToNoise(squaredError, count: repainted) >= 40)
}

/// recipes/bulk-inpaint-fast.yaml (LCM, 4 steps, guidance 1, `vae: taesd` found in models/
/// beside the recipe) on the 9-channel tiny UNet: as shipped it runs and keeps what lies far
/// from the mask; with `mask_blur: 0` and `mask_grow: 0` its repainted pixels match diffusers'
/// StableDiffusionInpaintPipeline with LCMScheduler and AutoencoderTiny as its VAE, and with
/// `vae_encoder: full` that pipeline with the model's VAE encoding and AutoencoderTiny decoding
/// (taesd_fixtures.py).
@Test func bulkInpaintFastRecipeMatchesDiffusersLCMWithTheTinyAutoencoder() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder, unet: "unet-inpaint")
    let input = try astronautInput(in: folder, withMask: true)
    let models = folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.url("taesd", "taesd"), to: models.appendingPathComponent("taesd"))
    let shipped = try String(contentsOf: Fixtures.recipe("bulk-inpaint-fast"), encoding: .utf8)
    func run(_ recipe: String, _ name: String) throws -> Image {
        let recipeURL = folder.appendingPathComponent("\(name).yaml")
        try recipe.write(to: recipeURL, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent(name)
        #expect(try runOverpaint(["validate", recipeURL.path, "--model", model.path]).status == 0)
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path])
        #expect(result.status == 0, "\(result.stderr)")
        let written = output.appendingPathComponent("astronaut-inpainted-fast.png")
        let parameters = try ImageFile.readTextChunks(written)["parameters"] ?? ""
        #expect(parameters.contains("Steps: 4, Sampler: LCM, Schedule type: Automatic, CFG scale: 1.0, Seed: 7, ") && parameters.contains(", VAE: taesd, "),
                "\(parameters)")
        return try ImageFile.read(written)
    }
    let original = try ImageFile.read(input.appendingPathComponent("astronaut.png"))
    #expect(try run(shipped, "shipped") != original)
    let sharp = shipped.replacingOccurrences(of: "mask_blur: 4", with: "mask_blur: 0")
        .replacingOccurrences(of: "mask_grow: 4", with: "mask_grow: 0")
    let mask = try ImageFile.read(fixtures.appendingPathComponent("mask.png"))
    func expectRepaintedAsDiffusers(_ ours: Image, fixture: String) throws {
        let expected = try ImageFile.read(Fixtures.root.appendingPathComponent("taesd/\(fixture).png"))
        var (keptDiffering, repainted, squaredError) = (0, 0, 0.0)
        for y in 0..<ours.height {
            for x in 0..<ours.width {
                for channel in 0..<3 where mask[x, y, 0] < 0.5 {
                    if ours[x, y, channel] != original[x, y, channel] { keptDiffering += 1 }
                }
                for channel in 0..<3 where mask[x, y, 0] >= 0.5 {
                    let difference = Double(ours[x, y, channel] - expected[x, y, channel])
                    squaredError += difference * difference
                    repainted += 1
                }
            }
        }
        #expect(repainted > 0 && keptDiffering == 0, "\(fixture)")
        #expect(peakSignalToNoise(squaredError, count: repainted) >= 40, "\(fixture)")
    }
    try expectRepaintedAsDiffusers(try run(sharp, "sharp"), fixture: "inpaint_fast")
    let fullEncoding = sharp.replacingOccurrences(of: "vae: taesd\n", with: "vae: taesd\nvae_encoder: full\n")
    #expect(fullEncoding != sharp)
    try expectRepaintedAsDiffusers(try run(fullEncoding, "full-encoding"), fixture: "inpaint_fast_taesd_decoder")
}

/// The edit row: DDIM inversion with the source prompt at guidance 1, then
/// StableDiffusionPipeline with DDIM from those latents (inversion_fixtures.py, case edit).
@Test func editThroughTheCommandLineMatchesDiffusers() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let ours = try run("""
        seed: 42
        match: {images: ["*.png"]}
        edits:
          - edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting",
                   steps: 10, guidance: 7.5}
        """, model: try tinyPipelineFolder(in: folder), in: folder)
    let expected = try ImageFile.read(fixtures.appendingPathComponent("inversion_edit.png"))
    #expect(ours.width == expected.width && ours.height == expected.height)
    let squaredError = zip(ours.samples, expected.samples).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
    #expect(peakSignalToNoise(squaredError, count: ours.samples.count) >= 40)
}
