import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing
@testable import Batch

/// RECIPES.md's parity promise, through `overpaint run`: the img2img edit reproduces
/// diffusers' StableDiffusionImg2ImgPipeline with torch.Generator("cpu").manual_seed(42)
/// (tools/reference/pipeline_fixtures.py, case img2img_pndm).
@Test func img2imgThroughTheCommandLineMatchesDiffusers() throws {
    let run = try RecipeRun.tinyPipeline(withMask: true)
    defer { run.remove() }
    try run.runSucceeding(try run.oneEditRecipe("""
        img2img: {prompt: "an astronaut in a garden, oil painting", strength: 0.75, steps: 10, guidance: 7.5}
        """, seed: 42, named: "img2img.yaml"))
    try run.expectOutput(matches: try Fixtures.image("pipelines", "img2img_pndm.png"))
    let parameters = try run.outputParameters()
    let lines = parameters.split(separator: "\n")
    #expect(lines.first == "an astronaut in a garden, oil painting")
    #expect(lines.last?.hasPrefix("Steps: 10, Sampler: PLMS, Schedule type: Automatic, CFG scale: 7.5, Seed: 42, Size: 64x64, Model hash: ") == true)
    #expect(parameters.contains("Model: sd-tiny, Denoising strength: 0.75"))
}

/// Every generation recipe in recipes/ runs on the tiny model; inpainting keeps every
/// pixel outside the grown, blurred mask.
@Test(arguments: ["restyle", "bulk-inpaint", "edit-invert"])
func generationRecipesRunOnATinyModel(_ name: String) throws {
    let run = try RecipeRun.tinyPipeline(withMask: true)
    defer { run.remove() }
    try run.validateAndRunSucceeding(Fixtures.recipe(name))
    let produced = try run.outputPNGs()
    #expect(produced.count == 1)
    let image = try run.outputImage(produced[0])
    let original = try ImageFile.read(run.input.appendingPathComponent("astronaut.png"))
    #expect(image.width == original.width && image.height == original.height)
    #expect(!image.samples.contains { $0.isNaN })
    #expect(image != original)
    if name == "bulk-inpaint" {
        let mask = try ImageFile.read(run.input.appendingPathComponent("masks/astronaut.png"))
        // mask_grow 4 plus mask_blur 4 reach at most 4 + 3*4 pixels past the drawn mask.
        let reach = 16
        var changedFar = 0
        for y in 0..<original.height {
            for x in 0..<original.width {
                let near = (max(0, y - reach)...min(original.height - 1, y + reach)).contains { my in
                    (max(0, x - reach)...min(original.width - 1, x + reach)).contains { mx in mask[mx, my, 0] > 0.5 } }
                if !near && (0..<3).contains(where: { image[x, y, $0] != original[x, y, $0] }) { changedFar += 1 }
            }
        }
        #expect(changedFar == 0)
    }
}

/// The Real-ESRGAN recipes, with a tiny RRDBNet in ncnn format standing in for x4plus
/// (found by name through $OVERPAINT_MODELS, as the fetched weights are).
@Test(arguments: ["upscale", "remove-and-upscale"])
func upscaleRecipesRunWithANamedModel(_ name: String) throws {
    var run = try RecipeRun()
    defer { run.remove() }
    let folder = run.folder
    let models = folder.appendingPathComponent("models/realesrgan")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    let fixtures = Fixtures.root.appendingPathComponent("esrgan")
    for ext in ["param", "bin"] {
        try FileManager.default.createSymbolicLink(at: models.appendingPathComponent("realesrgan-x4plus.\(ext)"),
                                                   withDestinationURL: fixtures.appendingPathComponent("rrdb.\(ext)"))
    }
    run.input = try astronautInput(in: folder, withMask: true)
    run.environment["OVERPAINT_MODELS"] = folder.appendingPathComponent("models").path
    let recipe = Fixtures.recipe(name)
    try run.runSucceeding(recipe)
    let produced = try run.outputPNGs()
    #expect(produced.count == 1)
    let original = try ImageFile.read(run.input.appendingPathComponent("astronaut.png"))
    let image = try run.outputImage(produced[0])
    #expect(image.width == 2 * original.width && image.height == 2 * original.height)
    #expect(!image.samples.contains { $0.isNaN })
    let packet = try #require(try XMPReading.packet(inFileAt: run.output.appendingPathComponent(produced[0])))
    #expect(packet.contains("digitalsourcetype/algorithmicallyEnhanced<"), "Real-ESRGAN, found by name, enhances")

    // Away from any fetched weights: the recipe copied out of the repository, run elsewhere.
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_MODELS"] = folder.appendingPathComponent("nowhere").path
    let isolated = folder.appendingPathComponent("isolated/recipes")
    try FileManager.default.createDirectory(at: isolated, withIntermediateDirectories: true)
    let copied = isolated.appendingPathComponent("\(name).yaml")
    try FileManager.default.copyItem(at: recipe, to: copied)
    let missing = try runOverpaint(["run", copied.path, "--input", run.input.path, "--output", folder.appendingPathComponent("out2").path],
                                   environment: environment, in: isolated)
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("no upscaler model 'realesrgan-x4plus'"))
    #expect(missing.stderr.contains("OVERPAINT_MODELS=\(folder.appendingPathComponent("nowhere").path) is not a folder"))
}

/// recipes/restyle-canny.yaml, whose settings are the reference case controlnet_canny of
/// tools/reference/controlnet_pipeline_fixtures.py: through `overpaint run` it reproduces
/// diffusers' StableDiffusionControlNetImg2ImgPipeline, the Canny map computed in-process.
@Test func restyleCannyRecipeMatchesDiffusersControlNetImg2Img() throws {
    var run = try RecipeRun.tinyPipeline(withMask: true, modelNaming: .environment("OVERPAINT_MODEL"))
    defer { run.remove() }
    run.environment["OVERPAINT_CONTROLNET_CANNY"] = Fixtures.url("pipelines", "controlnet_tiny").path
    try run.runSucceeding(Fixtures.recipe("restyle-canny"))
    let reference = try Fixtures.image("pipelines", "controlnet_canny.png")
    #expect(ImageFidelity.psnr(try run.outputImage("astronaut-canny-restyled.png"), reference, eightBit: true) >= 40)
}
