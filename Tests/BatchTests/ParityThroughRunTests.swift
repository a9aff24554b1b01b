import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing
@testable import Batch

// RECIPES.md's parity table through `overpaint run`, for the rows the other command-line
// tests do not cover: inpaint (4- and 9-channel UNets) and edit. References are
// tools/reference/pipeline_fixtures.py and inversion_fixtures.py on the tiny pipeline.

private let fixtures = Fixtures.root.appendingPathComponent("pipelines")

/// An inpainted image against its input and the reference, over the three colour channels:
/// how many samples where `mask` is below 0.5 differ from `input`, how many samples it repaints
/// (the others), and their PSNR against `expected`.
private func compareInpainted(_ ours: Image, input: Image, expected: Image, mask: Image)
    -> (keptDiffering: Int, repainted: Int, repaintedPSNR: Double) {
    var (keptDiffering, repainted, squaredError) = (0, 0, 0.0)
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
    return (keptDiffering, repainted, peakSignalToNoiseRatio(squaredError: squaredError, count: repainted))
}

/// With `mask_blur: 0`, pixels where the mask is 0 are the input's and pixels where it is 1
/// match StableDiffusionInpaintPipeline (cases inpaint_4ch: ordinary UNet, latent blending;
/// inpaint_9ch: the inpainting UNet).
@Test(arguments: [("inpaint_4ch", 0.75, false), ("inpaint_9ch", 1.0, true)])
func inpaintThroughTheCommandLineMatchesDiffusers(_ reference: String, _ strength: Double, _ inpaintingUNet: Bool) throws {
    let run = try RecipeRun.tinyPipeline("\(#function)-\(reference)", unet: inpaintingUNet ? "unet-inpaint" : nil, withMask: true)
    defer { run.remove() }
    try run.runSucceeding(try run.oneEditRecipe("""
        inpaint: {prompt: "An astronaut in a garden, oil painting", strength: \(strength), steps: 10, guidance: 7.5, mask_blur: 0}
        """, seed: 7, withMasks: true))
    let ours = try run.outputImage()
    let expected = try ImageFile.read(fixtures.appendingPathComponent("\(reference).png"))
    #expect(ours.width == expected.width && ours.height == expected.height)
    let comparison = compareInpainted(ours, input: try ImageFile.read(fixtures.appendingPathComponent("input.png")), expected: expected,
                                      mask: try ImageFile.read(fixtures.appendingPathComponent("mask.png")))
    #expect(comparison.repainted > 0)
    #expect(comparison.keptDiffering == 0)
    #expect(comparison.repaintedPSNR >= 40)
}

/// recipes/bulk-inpaint-fast.yaml (LCM, 4 steps, guidance 1, `vae: taesd` found in models/
/// beside the recipe) on the 9-channel tiny UNet: as shipped it runs and keeps what lies far
/// from the mask; with `mask_blur: 0` and `mask_grow: 0` its repainted pixels match diffusers'
/// StableDiffusionInpaintPipeline with LCMScheduler and AutoencoderTiny as its VAE, and with
/// `vae_encoder: full` that pipeline with the model's VAE encoding and AutoencoderTiny decoding
/// (taesd_fixtures.py).
@Test func bulkInpaintFastRecipeMatchesDiffusersLCMWithTheTinyAutoencoder() throws {
    let run = try RecipeRun.tinyPipeline(unet: "unet-inpaint", withMask: true)
    defer { run.remove() }
    let models = run.folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.url("taesd", "taesd"), to: models.appendingPathComponent("taesd"))
    let shipped = try String(contentsOf: Fixtures.recipe("bulk-inpaint-fast"), encoding: .utf8)
    func inpaint(_ yaml: String, _ name: String) throws -> Image {
        let recipe = try run.recipe(yaml, named: "\(name).yaml")
        let named = run.writing(to: name)
        try named.validateAndRunSucceeding(recipe)
        let parameters = try named.outputParameters("astronaut-inpainted-fast.png")
        #expect(parameters.contains("Steps: 4, Sampler: LCM, Schedule type: Automatic, CFG scale: 1.0, Seed: 7, ") && parameters.contains(", VAE: taesd, "),
                "\(parameters)")
        return try named.outputImage("astronaut-inpainted-fast.png")
    }
    let original = try ImageFile.read(run.input.appendingPathComponent("astronaut.png"))
    #expect(try inpaint(shipped, "shipped") != original)
    let sharp = shipped.replacingOccurrences(of: "mask_blur: 4", with: "mask_blur: 0")
        .replacingOccurrences(of: "mask_grow: 4", with: "mask_grow: 0")
    let mask = try ImageFile.read(fixtures.appendingPathComponent("mask.png"))
    func expectRepaintedAsDiffusers(_ ours: Image, fixture: String) throws {
        let comparison = compareInpainted(ours, input: original, expected: try Fixtures.image("taesd", "\(fixture).png"), mask: mask)
        #expect(comparison.repainted > 0 && comparison.keptDiffering == 0, "\(fixture)")
        #expect(comparison.repaintedPSNR >= 40, "\(fixture)")
    }
    try expectRepaintedAsDiffusers(try inpaint(sharp, "sharp"), fixture: "inpaint_fast")
    let fullEncoding = sharp.replacingOccurrences(of: "vae: taesd\n", with: "vae: taesd\nvae_encoder: full\n")
    #expect(fullEncoding != sharp)
    try expectRepaintedAsDiffusers(try inpaint(fullEncoding, "full-encoding"), fixture: "inpaint_fast_taesd_decoder")
}

/// The edit row: DDIM inversion with the source prompt at guidance 1, then
/// StableDiffusionPipeline with DDIM from those latents (inversion_fixtures.py, case edit).
@Test func editThroughTheCommandLineMatchesDiffusers() throws {
    let run = try RecipeRun.tinyPipeline(withMask: true)
    defer { run.remove() }
    try run.runSucceeding(try run.oneEditRecipe("""
        edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting", steps: 10, guidance: 7.5}
        """, seed: 42))
    let ours = try run.outputImage()
    let expected = try ImageFile.read(fixtures.appendingPathComponent("inversion_edit.png"))
    #expect(ours.width == expected.width && ours.height == expected.height)
    #expect(ImageFidelity.psnr(ours.samples, expected.samples) >= 40)
}
