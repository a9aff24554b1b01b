import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing

/// recipes/restyle-sdxl.yaml through `overpaint run` reproduces diffusers'
/// StableDiffusionXLImg2ImgPipeline with the recipe's keys (prompt_2, negative_prompt, strength
/// 0.6, 30 steps, guidance 5) and torch.Generator("cpu").manual_seed(42)
/// (tools/reference/sdxl_fixtures.py, `restyle_sdxl_reference`).
@Test func restyleSDXLRecipeMatchesDiffusers() throws {
    let run = try RecipeRun.tinySDXL(modelNaming: .environment("OVERPAINT_SDXL_MODEL"))
    defer { run.remove() }
    let parameters = try run.runShippedRecipe("restyle-sdxl", expecting: "astronaut-watercolor-xl.png",
                                              toMatch: try Fixtures.image("sdxl", "restyle_sdxl.png"))
    #expect(parameters.split(separator: "\n").first == "a watercolor painting, soft washes of colour")
}

/// Without `negative_prompt` an SDXL run guides against zeros (diffusers' negative_prompt=None
/// with force_zeros_for_empty_prompt), which differs from guiding against the empty prompt.
@Test func omittedNegativePromptIsNotTheEmptyOne() throws {
    let run = try RecipeRun.tinySDXL()
    defer { run.remove() }
    var images: [Image] = []
    for negative in ["", "\n      negative_prompt: \"\""] {
        let recipe = try run.recipe("""
        seed: 42
        edits:
          - img2img:
              prompt: "an astronaut in a garden, oil painting"\(negative)
              strength: 0.6
              steps: 10
              guidance: 5.0
        """, named: "r\(images.count).yaml")
        let numbered = run.writing(to: "out\(images.count)")
        try numbered.runSucceeding(recipe)
        images.append(try numbered.outputImage())
    }
    // the first is sdxl_fixtures.py's img2img_euler case (negative_prompt=None)
    let reference = try Fixtures.image("sdxl", "img2img_euler.png")
    #expect(ImageFidelity.psnr(images[0].samples, reference.samples, eightBit: true) >= 40)
    #expect(images[0] != images[1])
}

/// recipes/bulk-inpaint-sdxl.yaml on the tiny SDXL pipeline, with its 9-channel UNet and with the
/// base one: each repaints inside the mask and keeps every pixel farther than mask_grow plus
/// the blur's reach from it exactly.
@Test(arguments: [true, false])
func bulkInpaintSDXLRecipeKeepsTheUnmaskedPixels(inpaintingUNet: Bool) throws {
    let run = try RecipeRun.tinySDXL(inpainting: inpaintingUNet, withMask: true,
                                     modelNaming: .environment("OVERPAINT_SDXL_INPAINT_MODEL"))
    defer { run.remove() }
    try run.validateAndRunSucceeding(Fixtures.recipe("bulk-inpaint-sdxl"))
    let image = try run.outputImage("astronaut-inpainted-xl.png")
    let original = try ImageFile.read(run.input.appendingPathComponent("astronaut.png"))
    let mask = try ImageFile.read(run.input.appendingPathComponent("masks/astronaut.png"))
    #expect(image.width == original.width && image.height == original.height)
    // mask_grow 4 plus mask_blur 4 reach at most 4 + 3*4 pixels past the drawn mask.
    let reach = 16
    var changedFar = 0, changedInside = 0
    for y in 0..<original.height {
        for x in 0..<original.width {
            let changed = (0..<3).contains { image[x, y, $0] != original[x, y, $0] }
            if mask[x, y, 0] > 0.5 && changed { changedInside += 1 }
            let near = (max(0, y - reach)...min(original.height - 1, y + reach)).contains { my in
                (max(0, x - reach)...min(original.width - 1, x + reach)).contains { mx in mask[mx, my, 0] > 0.5 } }
            if !near && changed { changedFar += 1 }
        }
    }
    #expect(changedFar == 0)
    #expect(changedInside > 100)
}

/// `original_size`, `crop_top_left` and `target_size` on an img2img edit reach SDXL's time ids
/// as diffusers' `original_size=(1024, 768), crops_coords_top_left=(16, 8), target_size=(96, 80)`
/// (sdxl_fixtures.py, case img2img_sizes); a pair missing a key is a located error.
@Test func sdxlSizeConditioningFromTheRecipe() throws {
    let run = try RecipeRun.tinySDXL()
    defer { run.remove() }
    let recipe = try run.recipe("""
    seed: 9
    edits:
      - img2img:
          prompt: "an astronaut in a garden, oil painting"
          strength: 0.6
          steps: 6
          guidance: 5.0
          original_size: {height: 1024, width: 768}
          crop_top_left: {top: 16, left: 8}
          target_size: {height: 96, width: 80}
    """, named: "sizes.yaml")
    try run.runSucceeding(recipe)
    let reference = try Fixtures.image("sdxl", "img2img_sizes.png")
    #expect(ImageFidelity.psnr(try run.outputImage().samples, reference.samples, eightBit: true) >= 40)

    let broken = try run.recipe("""
    edits:
      - img2img:
          prompt: "a cat"
          original_size: {height: 1024}
    """, named: "broken.yaml")
    let refused = try run.validate(broken)
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("edits[0].img2img.original_size: missing required key 'width'"), "\(refused.stderr)")
}

/// Every edit with a model runs on SDXL now: an inpaint with a ControlNet validates
/// (StableDiffusionXLControlNetInpaintPipeline; parity in SDXLPipelineTests).
@Test func validateTakesSDXLControlNetInpaint() throws {
    let run = try RecipeRun.tinySDXL()
    defer { run.remove() }
    let recipe = try run.recipe("""
    match: {mask: "masks/{stem}.png"}
    edits:
      - inpaint:
          prompt: "a painting"
          control: [{type: canny, model: "\(Fixtures.url("sdxl", "controlnet").path)"}]
    """, named: "inpaint.yaml")
    let result = try run.validate(recipe)
    #expect(result.status == 0, "\(result.stderr)")
}

/// recipes/edit-invert.yaml's edit on an SDXL model through `overpaint run`: the DDIM
/// inversion edit's reference (sdxl_inversion_fixtures.py, case edit) with the recipe's keys.
@Test func theEditRunsOnSDXL() throws {
    let run = try RecipeRun.tinySDXL()
    defer { run.remove() }
    try run.runSucceeding(try run.recipe("""
    seed: 42
    edits:
      - edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting", steps: 10, guidance: 5.0}
    """, named: "edit.yaml"))
    let reference = try Fixtures.image("sdxl", "inversion_edit.png")
    let psnr = ImageFidelity.psnr(try run.outputImage().samples, reference.samples, eightBit: true)
    #expect(psnr >= 40, "PSNR \(psnr) dB")
}
