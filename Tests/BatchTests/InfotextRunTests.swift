import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// The A1111 fields an inpaint and a ControlNet recipe write through `overpaint run` on the tiny
/// pipeline of Tests/Fixtures/pipelines, as GenerationParametersTests' reference cases spell them.
@Suite struct InfotextRunTests {
    /// The tiny ControlNet as sd-webui-controlnet titles it. Its weights are under 1 MiB, so
    /// A1111's old `model_hash` reads nothing:
    /// `f.seek(0x100000); hashlib.sha256(f.read(0x10000)).hexdigest()[:8]` is e3b0c442.
    static let controlNetTitle = "controlnet_tiny [e3b0c442]"

    /// Validates and runs `recipe` on the one image, and returns the infotext of its output.
    static func parameters(afterRunning recipe: URL, _ run: RecipeRun) throws -> String {
        _ = try InpaintRecipeTests.validateAndRun(recipe, run)
        let produced = try run.outputPNGs()
        try #require(produced.count == 1)
        return try run.outputParameters(produced[0])
    }

    /// A masked-area inpaint on the 9-channel inpainting UNet with a Canny control: the unit (set
    /// before A1111's img2img init), then the inpaint fields; the inpainting model's conditional
    /// mask weight.
    @Test func inpaintWritesA1111sInpaintAndControlNetFields() throws {
        let (run, _) = try InpaintRecipeTests.maskedRun(unet: "unet-inpaint", xs: 16...40, ys: 20...44)
        defer { run.remove() }
        let controlNet = Fixtures.url("pipelines", "controlnet_tiny").path
        let recipe = try run.oneEditRecipe("""
            inpaint: {prompt: "a red flower", steps: 4, mask_blur: 2, area: masked, padding: 4, fill: fill, width: 32, height: 32, control: [{type: canny, model: "\(controlNet)", scale: 0.5, end: 0.8}]}
            """, seed: 3, withMasks: true, named: "inpaint.yaml")
        let parameters = try Self.parameters(afterRunning: recipe, run)
        #expect(parameters.contains("""
            , Denoising strength: 1.0, Conditional mask weight: 1.0, ControlNet 0: "Module: canny, Model: \(Self.controlNetTitle), \
            Weight: 0.5, Resize Mode: Just Resize, Processor Res: 64, Threshold A: 100.0, Threshold B: 200.0, \
            Guidance Start: 0.0, Guidance End: 0.8, Pixel Perfect: False, Control Mode: Balanced", Mask blur: 2, \
            Inpaint area: Only masked, Masked area padding: 4, Masked content: fill, Version: Overpaint
            """), "\(parameters)")
    }

    /// "Only masked" records the size the crop is processed at (A1111's `p.width` x `p.height`),
    /// here the recipe's 48x32, not the 64x64 photo's; a side left unset is the VAE's `sample_size`
    /// (the tiny model's 64).
    @Test(arguments: [("width: 48, height: 32", "48x32"), ("width: 48", "48x64"), ("height: 40", "64x40")])
    func onlyMaskedRecordsTheProcessingSizeAsSize(size: String, expected: String) throws {
        let (run, _) = try InpaintRecipeTests.maskedRun(xs: 16...40, ys: 20...44)
        defer { run.remove() }
        let recipe = try run.oneEditRecipe("""
            inpaint: {prompt: "a red flower", steps: 2, mask_blur: 0, area: masked, padding: 4, \(size)}
            """, seed: 3, withMasks: true, named: "inpaint.yaml")
        let parameters = try Self.parameters(afterRunning: recipe, run)
        let output = try run.outputImage(try run.outputPNGs()[0])
        #expect(output.width == 64 && output.height == 64)
        #expect(parameters.contains(", Seed: 3, Size: \(expected), Model hash: "), "\(parameters)")
    }

    /// Whole-picture inpaint with the original content and no blur writes none of the inpaint
    /// fields (A1111's defaults), and an ordinary UNet no conditional mask weight.
    @Test func inpaintDefaultsAreLeftOutAsA1111LeavesThem() throws {
        let (run, _) = try InpaintRecipeTests.maskedRun(xs: 16...40, ys: 20...44)
        defer { run.remove() }
        let recipe = try run.oneEditRecipe("""
            inpaint: {prompt: "a red flower", steps: 4, mask_blur: 0, area: whole, fill: original}
            """, seed: 3, withMasks: true, named: "inpaint.yaml")
        let parameters = try Self.parameters(afterRunning: recipe, run)
        #expect(parameters.contains(", Model: sd-tiny, Denoising strength: 1.0, Version: Overpaint"), "\(parameters)")
    }

    /// img2img with a Canny unit and a depth map given as a file (the extension's `none`
    /// preprocessor, its sliders at their defaults), in recipe order.
    @Test func controlNetImg2ImgWritesOneEntryPerUnit() throws {
        let (run, _) = try InpaintRecipeTests.maskedRun(xs: 0...0, ys: 0...0)
        defer { run.remove() }
        try FileManager.default.createDirectory(at: run.input.appendingPathComponent("depth"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: run.input.appendingPathComponent("astronaut.png"),
                                         to: run.input.appendingPathComponent("depth/astronaut.png"))
        let controlNet = Fixtures.url("pipelines", "controlnet_tiny").path
        let recipe = try run.recipe("""
        seed: 3
        match: {images: ["*.png"], control: "depth/{stem}.png"}
        edits:
          - img2img: {prompt: "an astronaut, oil painting", steps: 4, strength: 0.5, control: [{type: canny, model: "\(controlNet)", low: 50, high: 150}, {type: depth, model: "\(controlNet)", source: file, start: 0.25}]}
        """, named: "img2img.yaml")
        let parameters = try Self.parameters(afterRunning: recipe, run)
        #expect(parameters.contains("""
            , Denoising strength: 0.5, ControlNet 0: "Module: canny, Model: \(Self.controlNetTitle), Weight: 1.0, \
            Resize Mode: Just Resize, Processor Res: 64, Threshold A: 50.0, Threshold B: 150.0, Guidance Start: 0.0, \
            Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced", ControlNet 1: "Module: none, \
            Model: \(Self.controlNetTitle), Weight: 1.0, Resize Mode: Just Resize, Processor Res: 512, Threshold A: 0.5, \
            Threshold B: 0.5, Guidance Start: 0.25, Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced", \
            Version: Overpaint
            """), "\(parameters)")
    }
}
