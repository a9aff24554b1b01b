import Foundation
import OverpaintTestSupport
import Recipes
import Testing
@testable import Batch

/// A scratch folder with in/a.png and a recipe of `yaml` at recipe.yaml.
private struct Case {
    let folder: URL
    let recipe: URL
    var input: URL { folder.appendingPathComponent("in") }
    var output: URL { folder.appendingPathComponent("out") }

    init(_ yaml: String, name: String = #function) throws {
        folder = try makeScratchFolder(name)
        recipe = folder.appendingPathComponent("recipe.yaml")
        try yaml.write(to: recipe, atomically: true, encoding: .utf8)
        try write(testPhoto(width: 16, height: 16), folder.appendingPathComponent("in/a.png"))
    }

    /// `validate`, `run --dry-run` and `run` on this case (with `arguments` after the recipe):
    /// each must refuse it with exit 2, naming the problem the same way, and run must write nothing.
    func expectBothRefuse(_ message: String, arguments: [String] = [], environment: [String: String]? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let validate = try runOverpaint(["validate", recipe.path] + arguments, environment: environment)
        #expect(validate.status == 2, "validate: \(validate.stderr)", sourceLocation: sourceLocation)
        #expect(validate.stderr.contains(message), "validate: \(validate.stderr)", sourceLocation: sourceLocation)
        for dryRun in [["--dry-run"], []] {
            let run = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path] + dryRun + arguments,
                                       environment: environment)
            #expect(run.status == 2, "run \(dryRun): \(run.stderr)", sourceLocation: sourceLocation)
            #expect(run.stderr.contains(message), "run \(dryRun): \(run.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path), "run wrote \(output.path)", sourceLocation: sourceLocation)
    }
}

private let img2img = """
match: {images: ["*.png"]}
edits:
  - img2img: {prompt: "a watercolor", steps: 2, strength: 0.5}
"""

/// The tiny SD pipeline with its UNet folder replaced by a copy that `change` alters.
private func pipelineWithUNet(in folder: URL, _ change: (URL) throws -> Void) throws -> URL {
    let model = try tinyPipelineFolder(in: folder)
    let unet = model.appendingPathComponent("unet")
    try FileManager.default.removeItem(at: unet)
    try FileManager.default.copyItem(at: Fixtures.url("pipelines", "sd-tiny/unet"), to: unet)
    try change(unet)
    return model
}

/// Each model problem `validate` once passed and `run` then met on every image (exit 1) is
/// now refused by both, before any image, with one line naming the file.
@Test func modelsThatDoNotLoadAreRefusedByValidateAndRunAlike() throws {
    let unknownUpscaler = try Case("match: {images: [\"*.png\"]}\nedits:\n  - upscale: {model: realesrgan-x9}\n")
    defer { try? FileManager.default.removeItem(at: unknownUpscaler.folder) }
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_MODELS"] = unknownUpscaler.folder.path
    try unknownUpscaler.expectBothRefuse("edits[0].upscale.model: no upscaler model 'realesrgan-x9'", environment: environment)

    let pickle = try Case(img2img)
    defer { try? FileManager.default.removeItem(at: pickle.folder) }
    let evil = pickle.folder.appendingPathComponent("evil.ckpt")
    try Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]).write(to: evil)
    try pickle.expectBothRefuse("edits[0].img2img.model: \(evil.path): pickle checkpoints are never loaded",
                                arguments: ["--model", evil.path])

    let pickledUNet = try Case(img2img)
    defer { try? FileManager.default.removeItem(at: pickledUNet.folder) }
    let pickledModel = try pipelineWithUNet(in: pickledUNet.folder) { unet in
        try FileManager.default.moveItem(at: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"),
                                         to: unet.appendingPathComponent("diffusion_pytorch_model.bin"))
    }
    try pickledUNet.expectBothRefuse("pickle", arguments: ["--model", pickledModel.path])

    let truncated = try Case(img2img)
    defer { try? FileManager.default.removeItem(at: truncated.folder) }
    let truncatedModel = try pipelineWithUNet(in: truncated.folder) { unet in
        let weights = unet.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count / 2).write(to: weights)
    }
    try truncated.expectBothRefuse("unet/diffusion_pytorch_model.safetensors: file is truncated",
                                   arguments: ["--model", truncatedModel.path])
}

/// A UNet config that asks for SDXL's text_time embedding without its sizes (a broken SDXL
/// folder) is refused before any image, in one line saying what is missing.
@Test func aBrokenSDXLUNetIsRefusedInOneLine() throws {
    let sdxl = try Case(img2img)
    defer { try? FileManager.default.removeItem(at: sdxl.folder) }
    let model = try pipelineWithUNet(in: sdxl.folder) { unet in
        let configURL = unet.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any] ?? [:]
        config["addition_embed_type"] = "text_time"
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    }
    try sdxl.expectBothRefuse("unsupported config (addition_embed_type text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim)",
                              arguments: ["--model", model.path])
    let validate = try runOverpaint(["validate", sdxl.recipe.path, "--model", model.path])
    #expect(validate.stderr.split(separator: "\n").count == 1, "\(validate.stderr)")
}

/// An SDXL embedding (clip_l / clip_g) for an SD 1.x model, and an SD 1.x one for an SDXL model,
/// are refused before any image (preflight adds the recipe's embeddings), naming the file and
/// the mismatch.
@Test func anEmbeddingOfTheOtherFamilyIsRefused() throws {
    let sdxlEmbedding = Fixtures.url("sdxl-textual-inversion", "glossy.safetensors").path
    let sd1Embedding = Fixtures.url("textual-inversion", "shiny.safetensors").path
    let forSD1 = try Case("embeddings: [\(sdxlEmbedding)]\n" + img2img)
    defer { try? FileManager.default.removeItem(at: forSD1.folder) }
    try forSD1.expectBothRefuse("\(sdxlEmbedding): an SDXL embedding (clip_l / clip_g), but the model is not SDXL",
                                arguments: ["--model", try tinyPipelineFolder(in: forSD1.folder).path])
    let forSDXL = try Case("embeddings: [\(sd1Embedding)]\n" + img2img)
    defer { try? FileManager.default.removeItem(at: forSDXL.folder) }
    try forSDXL.expectBothRefuse("\(sd1Embedding): an SD 1.x / 2.x embedding (one tensor), but the model is SDXL, which takes SDXL embeddings (clip_l / clip_g)",
                                 arguments: ["--model", try tinySDXLFolder(in: forSDXL.folder).path])
}

/// The problems `loadEveryModel` finds in `recipe`, none when every model loads.
private func modelProblems(_ recipe: Recipe, models: ModelCache = ModelCache()) throws -> [String] {
    do {
        try models.loadEveryModel(of: recipe)
        return []
    } catch .unusableModels(let problems) {
        return problems
    }
}

/// Every img2img and inpaint edit carries the recipe's one `refiner:`: preflight loads it once
/// however many edits hand over to it, and a folder that is no refiner is reported once, by
/// name, in the line a recipe of one edit gets.
@Test(arguments: [false, true])
func aRefinerTwoEditsHandOverToIsLoadedOnce(broken: Bool) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let base = try tinySDXLFolder(in: folder).path
    let refiner = broken ? base : try tinySDXLRefinerFolder(in: folder).path
    let oneEdit = """
        model: \(base)
        refiner: \(refiner)
        match: {images: ["*.png"]}
        edits:
          - img2img: {prompt: "a watercolor", strength: 0.5, steps: 4}
        """
    let models = ModelCache()
    let problems = try modelProblems(try recipe(oneEdit + "\n  - img2img: {prompt: \"a sketch\", strength: 0.5, steps: 4}\n", in: folder),
                                     models: models)
    #expect(models.loadAttempts[refiner] == 1, "\(models.loadAttempts)")
    if broken {
        #expect(problems.count == 1 && problems[0].contains("refiner: \(base): unsupported config"), "\(problems)")
        #expect(problems == (try modelProblems(try recipe(oneEdit, in: folder))))
    } else {
        #expect(problems.isEmpty, "\(problems)")
    }
}

/// An SDXL single file loads (SingleFilePipelineTests); one holding only a CLIP-L tensor is
/// refused before any image, in one line naming the file.
@Test func anIncompleteSDXLSingleFileIsRefusedNamingIt() throws {
    let sdxl = try Case(img2img)
    defer { try? FileManager.default.removeItem(at: sdxl.folder) }
    let file = sdxl.folder.appendingPathComponent("sdxl.safetensors")
    let header = Data(#"{"conditioner.embedders.0.transformer.text_model.final_layer_norm.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
    var bytes = Data((0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) })
    bytes += header + Data(count: 4)
    try bytes.write(to: file)
    try sdxl.expectBothRefuse("\(file.path): not a diffusers folder or single-file checkpoint (no LDM key prefix found", arguments: ["--model", file.path])
}

/// What the recipe and the environment alone say is wrong, validate and run both refuse.
@Test func templatesGlobsAndEnvironmentAreCheckedBeforeAnyImage() throws {
    let escaping = try Case("match: {images: [\"*.png\"]}\noutput: {path: \"../{stem}.png\"}\nedits:\n  - resize: {width: 8, height: 8}\n")
    defer { try? FileManager.default.removeItem(at: escaping.folder) }
    try escaping.expectBothRefuse("output.path '../{stem}.png': output path '../photo.png' would leave the output folder")

    let number = try Case("match: {images: 5}\nedits:\n  - resize: {width: 8, height: 8}\n")
    defer { try? FileManager.default.removeItem(at: number.folder) }
    try number.expectBothRefuse("match.images[0] '5': matches only a file named exactly '5', with no extension")

    let resize = try Case("match: {images: [\"*.png\"]}\nedits:\n  - resize: {width: 8, height: 8}\n")
    defer { try? FileManager.default.removeItem(at: resize.folder) }
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_THREADS"] = "abc"
    try resize.expectBothRefuse("OVERPAINT_THREADS=abc is not a thread count", environment: environment)
    environment["OVERPAINT_THREADS"] = "2"
    #expect(try runOverpaint(["validate", resize.recipe.path], environment: environment).status == 0)
}

@Test func globProblemsAreFoundWithoutAFolder() {
    #expect(Glob.problem("*.png") == nil)
    #expect(Glob.problem("**/IMG_[0-9]*") == nil)
    #expect(Glob.problem("photo.*") == nil)
    #expect(Glob.problem("/photos/*.png") != nil)
    #expect(Glob.problem("../*.png") != nil)
    #expect(Glob.problem("[ab.png") != nil)
    #expect(Glob.problem("") != nil)
    #expect(Glob.problem("5") != nil)
}

/// The input folder's own checks: a glob that matches nothing and a missing mask folder are
/// errors of the run (exit 2, nothing written), and validate finds them given the folders.
@Test func noMatchingImagesAndAMissingMaskFolderStopTheRun() throws {
    let jpegs = try Case("match: {images: [\"*.jpg\"]}\nedits:\n  - resize: {width: 8, height: 8}\n")
    defer { try? FileManager.default.removeItem(at: jpegs.folder) }
    let run = try runOverpaint(["run", jpegs.recipe.path, "--input", jpegs.input.path, "--output", jpegs.output.path])
    #expect(run.status == 2 && run.stderr == "\(jpegs.input.path): no images matched match.images '*.jpg'\n", "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: jpegs.output.path))
    let validateJPEGs = try runOverpaint(["validate", jpegs.recipe.path, "--input", jpegs.input.path, "--output", jpegs.output.path])
    #expect(validateJPEGs.status == 2 && validateJPEGs.stderr.contains("no images matched"), "\(validateJPEGs.stderr)")

    let masks = try Case(fillRecipe)
    defer { try? FileManager.default.removeItem(at: masks.folder) }
    let noMasks = try runOverpaint(["run", masks.recipe.path, "--input", masks.input.path, "--output", masks.output.path])
    #expect(noMasks.status == 2)
    #expect(noMasks.stderr == "\(masks.input.path): no folder masks for match.mask 'masks/{stem}.png'\n", "\(noMasks.stderr)")
    #expect(!FileManager.default.fileExists(atPath: masks.output.path))
    let validate = try runOverpaint(["validate", masks.recipe.path, "--input", masks.input.path, "--output", masks.output.path])
    #expect(validate.status == 2 && validate.stderr.contains("no folder masks"))

    try write(rectangleMask(width: 16, height: 16, x: 2..<6, y: 2..<6), masks.input.appendingPathComponent("masks/a.png"))
    let ok = try runOverpaint(["validate", masks.recipe.path, "--input", masks.input.path, "--output", masks.output.path, "--json"])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(ok.stdout.contains("\"images\":1") && ok.stdout.contains("\"ok\":true"), "\(ok.stdout)")
}
