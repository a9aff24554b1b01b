import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Testing

/// `refiner:` / `refiner_switch:` through `overpaint run` and `validate`.
@Suite struct SDXLRefinerRecipeTests {
    /// recipes/restyle-sdxl-refined.yaml reproduces diffusers' base (denoising_end 0.8, latents out)
    /// then refiner (denoising_start 0.8) with one torch.Generator("cpu").manual_seed(42)
    /// (tools/reference/sdxl_refiner_fixtures.py, `restyle_refined_reference`), and its parameters
    /// name the refiner as A1111 does.
    @Test func restyleSDXLRefinedRecipeMatchesDiffusers() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var environment = ProcessInfo.processInfo.environment
        environment["OVERPAINT_SDXL_MODEL"] = try tinySDXLFolder(in: folder).path
        environment["OVERPAINT_SDXL_REFINER"] = try tinySDXLRefinerFolder(in: folder).path
        let input = try astronautInput(in: folder, area: "sdxl")
        let output = folder.appendingPathComponent("out")
        let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/restyle-sdxl-refined.yaml").path
        let validated = try runOverpaint(["validate", recipe], environment: environment)
        #expect(validated.status == 0, "\(validated.stderr)")
        let result = try runOverpaint(["run", recipe, "--input", input.path, "--output", output.path], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let written = output.appendingPathComponent("astronaut-watercolor-refined.png")
        let ours = try ImageFile.read(written)
        let reference = try ImageFile.read(Fixtures.url("sdxl-refiner", "restyle_sdxl_refined.png"))
        let psnr = ImageFidelity.psnr(ours.samples, reference.samples, eightBit: true)
        #expect(psnr >= 40, "PSNR \(psnr) dB")
        let parameters = try ImageFile.readTextChunks(written)["parameters"] ?? ""
        #expect(parameters.contains("Refiner: refiner-tiny ["), "\(parameters)")
        #expect(parameters.contains("Refiner switch at: 0.8"), "\(parameters)")
    }

    /// What diffusers would not hand over, or a refiner that is not one, stops `validate` with
    /// one located line and exit 2.
    @Test(arguments: [
        ("refiner: REFINER\nrefiner_switch: 1.0\n", "IMG2IMG", "refiner_switch: must be strictly between 0 and 1"),
        ("refiner_switch: 0.5\n", "IMG2IMG", "refiner_switch needs refiner"),
        ("aesthetic_score: 7\n", "IMG2IMG", "aesthetic_score needs refiner"),
        ("refiner: REFINER\nnegative_aesthetic_score: 11\n", "IMG2IMG", "negative_aesthetic_score: 11.0 is out of range 0.0...10.0"),
        ("refiner: REFINER\n", "  - edit: {source_prompt: \"x\", prompt: \"y\"}\n",
         "edits[0] is an edit (DDIM inversion); only img2img and inpaint edits without control hand over"),
        ("refiner: REFINER\n", "  - resize: {width: 32, height: 32}\n", "no img2img or inpaint edit to hand over to the refiner"),
        ("refiner: BASE\n", "IMG2IMG", "refiner: BASE: unsupported config (not an SDXL refiner"),
        ("model: SD\nrefiner: REFINER\n", "IMG2IMG", "refiner: the model is not SDXL"),
    ])
    func validateRefusesWhatCannotHandOver(top: String, edit: String, message: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = try tinySDXLFolder(in: folder).path
        let refiner = try tinySDXLRefinerFolder(in: folder).path
        let sd = try tinyPipelineFolder(in: folder).path
        let img2img = "  - img2img: {prompt: \"x\", strength: 0.5, steps: 4}\n"
        let text = ("model: BASE\n" + top).replacingOccurrences(of: "model: BASE\nmodel: SD", with: "model: SD")
            + "match: {mask: \"masks/{stem}.png\"}\nedits:\n" + (edit == "IMG2IMG" ? img2img : edit)
        let recipe = folder.appendingPathComponent("r.yaml")
        try text.replacingOccurrences(of: "REFINER", with: refiner).replacingOccurrences(of: "BASE", with: base)
            .replacingOccurrences(of: "SD\n", with: sd + "\n").write(to: recipe, atomically: true, encoding: .utf8)
        let result = try runOverpaint(["validate", recipe.path])
        #expect(result.status == 2)
        let expected = message.replacingOccurrences(of: "BASE", with: base)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
