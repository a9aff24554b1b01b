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
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let input = try astronautInput(in: folder, area: "sdxl")
    let output = folder.appendingPathComponent("out")
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_SDXL_MODEL"] = model.path
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-sdxl.yaml").path
    #expect(try runOverpaint(["validate", recipe], environment: environment).status == 0)
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", output.path], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let written = output.appendingPathComponent("astronaut-watercolor-xl.png")
    let ours = try ImageFile.read(written)
    let reference = try ImageFile.read(Fixtures.root.appendingPathComponent("sdxl/restyle_sdxl.png"))
    #expect(ours.width == reference.width && ours.height == reference.height)
    let psnr = ImageFidelity.psnr(ours.samples, reference.samples, eightBit: true)
    #expect(psnr >= 40, "PSNR \(psnr) dB")
    let parameters = try ImageFile.readTextChunks(written)["parameters"] ?? ""
    #expect(parameters.split(separator: "\n").first == "a watercolor painting, soft washes of colour")
}

/// Without `negative_prompt` an SDXL run guides against zeros (diffusers' negative_prompt=None
/// with force_zeros_for_empty_prompt), which differs from guiding against the empty prompt.
@Test func omittedNegativePromptIsNotTheEmptyOne() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let input = try astronautInput(in: folder, area: "sdxl")
    var images: [Image] = []
    for negative in ["", "\n      negative_prompt: \"\""] {
        let recipe = folder.appendingPathComponent("r\(images.count).yaml")
        try """
        seed: 42
        edits:
          - img2img:
              prompt: "an astronaut in a garden, oil painting"\(negative)
              strength: 0.6
              steps: 10
              guidance: 5.0
        """.write(to: recipe, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out\(images.count)")
        let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path,
                                       "--model", model.path])
        #expect(result.status == 0, "\(result.stderr)")
        images.append(try ImageFile.read(output.appendingPathComponent("astronaut.png")))
    }
    // the first is sdxl_fixtures.py's img2img_euler case (negative_prompt=None)
    let reference = try ImageFile.read(Fixtures.root.appendingPathComponent("sdxl/img2img_euler.png"))
    #expect(ImageFidelity.psnr(images[0].samples, reference.samples, eightBit: true) >= 40)
    #expect(images[0] != images[1])
}

/// recipes/bulk-inpaint-sdxl.yaml on the tiny SDXL pipeline, with its 9-channel UNet and with the
/// base one: each repaints inside the mask and keeps every pixel farther than mask_grow plus
/// the blur's reach from it exactly.
@Test(arguments: [true, false])
func bulkInpaintSDXLRecipeKeepsTheUnmaskedPixels(inpaintingUNet: Bool) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder, inpainting: inpaintingUNet)
    let fixtures = Fixtures.root.appendingPathComponent("sdxl")
    let input = try astronautInput(in: folder, withMask: true, area: "sdxl")
    let output = folder.appendingPathComponent("out")
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_SDXL_INPAINT_MODEL"] = model.path
    let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/bulk-inpaint-sdxl.yaml").path
    #expect(try runOverpaint(["validate", recipe], environment: environment).status == 0)
    let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", output.path], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let image = try ImageFile.read(output.appendingPathComponent("astronaut-inpainted-xl.png"))
    let original = try ImageFile.read(input.appendingPathComponent("astronaut.png"))
    let mask = try ImageFile.read(input.appendingPathComponent("masks/astronaut.png"))
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
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let input = try astronautInput(in: folder, area: "sdxl")
    let recipe = folder.appendingPathComponent("sizes.yaml")
    try """
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
    """.write(to: recipe, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--model", model.path])
    #expect(result.status == 0, "\(result.stderr)")
    let ours = try ImageFile.read(output.appendingPathComponent("astronaut.png"))
    let reference = try ImageFile.read(Fixtures.root.appendingPathComponent("sdxl/img2img_sizes.png"))
    #expect(ImageFidelity.psnr(ours.samples, reference.samples, eightBit: true) >= 40)

    let broken = folder.appendingPathComponent("broken.yaml")
    try """
    edits:
      - img2img:
          prompt: "a cat"
          original_size: {height: 1024}
    """.write(to: broken, atomically: true, encoding: .utf8)
    let refused = try runOverpaint(["validate", broken.path, "--model", model.path])
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("edits[0].img2img.original_size: missing required key 'width'"), "\(refused.stderr)")
}

/// Every edit with a model runs on SDXL now: an inpaint with a ControlNet validates
/// (StableDiffusionXLControlNetInpaintPipeline; parity in SDXLPipelineTests).
@Test func validateTakesSDXLControlNetInpaint() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let recipe = folder.appendingPathComponent("inpaint.yaml")
    try """
    match: {mask: "masks/{stem}.png"}
    edits:
      - inpaint:
          prompt: "a painting"
          control: [{type: canny, model: "\(Fixtures.url("sdxl", "controlnet").path)"}]
    """.write(to: recipe, atomically: true, encoding: .utf8)
    let result = try runOverpaint(["validate", recipe.path, "--model", model.path])
    #expect(result.status == 0, "\(result.stderr)")
}

/// recipes/edit-invert.yaml's edit on an SDXL model through `overpaint run`: the DDIM
/// inversion edit's reference (sdxl_inversion_fixtures.py, case edit) with the recipe's keys.
@Test func theEditRunsOnSDXL() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let input = try astronautInput(in: folder, area: "sdxl")
    let recipe = folder.appendingPathComponent("edit.yaml")
    try """
    seed: 42
    edits:
      - edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting", steps: 10, guidance: 5.0}
    """.write(to: recipe, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--model", model.path])
    #expect(result.status == 0, "\(result.stderr)")
    let ours = try ImageFile.read(output.appendingPathComponent("astronaut.png"))
    let reference = try ImageFile.read(Fixtures.url("sdxl", "inversion_edit.png"))
    let psnr = ImageFidelity.psnr(ours.samples, reference.samples, eightBit: true)
    #expect(psnr >= 40, "PSNR \(psnr) dB")
}
