import Foundation
import Imaging
import OverpaintTestSupport
import Pipelines
import Tensors
import Weights
import Testing
@testable import Batch

/// LoRAs through `overpaint run` on the tiny pipeline: one from the recipe's `loras:`, one named in
/// the prompt, against diffusers' StableDiffusionImg2ImgPipeline after `load_lora_weights` +
/// `fuse_lora(lora_scale=w)` of both (tools/reference/lora_fixtures.py, img2img_lora.png).
@Suite struct LoRARunTests {
    static let fixtures = Fixtures.root.appendingPathComponent("lora")

    /// The model, an input folder with the astronaut, and a recipe folder whose `loras/` holds the
    /// kohya and LoCon fixtures.
    static func setUp(_ folder: URL) throws -> (model: URL, input: URL) {
        let model = try tinyPipelineFolder(in: folder)
        let input = folder.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("pipelines/input.png"),
                                         to: input.appendingPathComponent("astronaut.png"))
        let loras = folder.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: loras, withIntermediateDirectories: true)
        for name in ["kohya", "locon"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("\(name).safetensors"),
                                             to: loras.appendingPathComponent("\(name).safetensors"))
        }
        return (model, input)
    }

    @Test func lorasFromTheRecipeAndThePromptMatchDiffusers() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (model, input) = try Self.setUp(folder)
        let recipeURL = folder.appendingPathComponent("lora.yaml")
        try """
        seed: 42
        loras: [{path: loras/kohya.safetensors, weight: 0.8}]
        edits:
          - img2img: {prompt: "an astronaut in a garden, oil painting<lora:locon>", strength: 0.75, steps: 8, guidance: 7.5}
        """.write(to: recipeURL, atomically: true, encoding: .utf8)
        #expect(try runOverpaint(["validate", recipeURL.path, "--model", model.path]).status == 0)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path])
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try ImageFile.read(output.appendingPathComponent("astronaut.png"))
        let reference = try ImageFile.read(Self.fixtures.appendingPathComponent("img2img_lora.png"))
        #expect(ImageFidelity.psnr(ours, reference, eightBit: true) >= 40)
        let withoutLoRA = try ImageFile.read(Fixtures.root.appendingPathComponent("pipelines/input.png"))
        #expect(ImageFidelity.psnr(ours, withoutLoRA, eightBit: true) < 40)

        let hashes = try #require(try fixtureHashes())
        let parameters = try ImageFile.readTextChunks(output.appendingPathComponent("astronaut.png"))["parameters"] ?? ""
        #expect(parameters.hasPrefix("an astronaut in a garden, oil painting<lora:locon>\n"))
        let kohya = try #require(hashes["kohya.safetensors"]), locon = try #require(hashes["locon.safetensors"])
        #expect(parameters.contains("Lora hashes: \"kohya: \(kohya), locon: \(locon)\""), "\(parameters)")
    }

    /// A sidecar prompt naming a LoRA no folder has fails that image alone, naming the LoRA.
    @Test func anUnknownLoRAInASidecarFailsThatImage() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (model, input) = try Self.setUp(folder)
        try "a photo <lora:nowhere:0.5>".write(to: input.appendingPathComponent("astronaut.txt"), atomically: true, encoding: .utf8)
        let recipeURL = folder.appendingPathComponent("lora.yaml")
        try """
        match: {images: ["*.png"], prompt: "{stem}.txt"}
        edits:
          - img2img: {prompt: "unused", steps: 2}
        """.write(to: recipeURL, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no LoRA 'nowhere' (nowhere.safetensors) in "), "\(result.stderr)")
    }

    @Test func modelsInspectDescribesALoRA() throws {
        let result = try runOverpaint(["models", "inspect", Self.fixtures.appendingPathComponent("locon.safetensors").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("adapter:    LoCon, LoRA (kohya layout)"), "\(result.stdout)")
        #expect(result.stdout.contains("rank:       2"))
        #expect(result.stdout.contains("targets:    unet 16 modules"))
        let peft = try runOverpaint(["models", "inspect", "--json", Self.fixtures.appendingPathComponent("peft.safetensors").path])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(peft.stdout.utf8)) as? [String: Any])
        #expect(report["layout"] as? String == "peft" && report["ranks"] as? [Int] == [4])
        #expect(report["targets"] as? [String: Int] == ["unet": 36, "text_encoder": 8])
        #expect(report["baseFamily"] as? String == "unknown")
    }

    private func fixtureHashes() throws -> [String: String]? {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("cases.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["hashes"] as? [String: String]
    }
}

/// `vae:` through `overpaint run`: sd-tiny with another VAE, as a diffusers folder and as one LDM-layout
/// file without a prefix (how the ft-MSE VAE ships), against diffusers' img2img with that VAE
/// (tools/reference/vae_override_fixtures.py, img2img_vae.png).
@Test(arguments: ["vae", "vae-ldm.safetensors"])
func aVAEOverrideMatchesDiffusers(_ vae: String) throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let fixtures = Fixtures.root.appendingPathComponent("vae-override")
    let recipeURL = folder.appendingPathComponent("vae.yaml")
    try """
    seed: 42
    vae: \(fixtures.appendingPathComponent(vae).path)
    edits:
      - img2img: {prompt: "an astronaut in a garden, oil painting", strength: 0.75, steps: 6, guidance: 7.5}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    #expect(try runOverpaint(["validate", recipeURL.path, "--model", model.path]).status == 0)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path])
    #expect(result.status == 0, "\(result.stderr)")
    let ours = try ImageFile.read(output.appendingPathComponent("astronaut.png"))
    #expect(ImageFidelity.psnr(ours, try ImageFile.read(fixtures.appendingPathComponent("img2img_vae.png")), eightBit: true) >= 40)
    let parameters = try ImageFile.readTextChunks(output.appendingPathComponent("astronaut.png"))["parameters"] ?? ""
    #expect(parameters.contains(", VAE: \(vae), Denoising strength: 0.75"), "\(parameters)")
    #expect(parameters.contains("VAE hash: "))
}

/// `vae: taesd` through `overpaint run`: the tiny autoencoder folder found by name in models/
/// beside the recipe, against diffusers' img2img with AutoencoderTiny as its VAE, and with
/// `vae_encoder: full` against that pipeline with the model's VAE encoding and AutoencoderTiny decoding
/// (tools/reference/taesd_fixtures.py); without that folder, validate and run refuse the recipe
/// before any image, naming where they looked.
@Test func theTinyAutoencoderIsFoundByNameAndMatchesDiffusers() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let fixtures = Fixtures.root.appendingPathComponent("taesd")
    let recipeURL = folder.appendingPathComponent("taesd.yaml")
    try """
    seed: 42
    vae: taesd
    edits:
      - img2img: {prompt: "an astronaut in a garden, oil painting", strength: 0.75, steps: 6, guidance: 7.5}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let run = ["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path]
    let missing = try runOverpaint(run)
    #expect(missing.status == 2 && missing.stderr.contains("no tiny autoencoder folder 'taesd'"), "\(missing.stderr)")
    #expect(try runOverpaint(["validate", recipeURL.path, "--model", model.path]).status == 2)

    let models = folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("taesd"), to: models.appendingPathComponent("taesd"))
    #expect(try runOverpaint(["validate", recipeURL.path, "--model", model.path]).status == 0)
    func expectOutput(as fixture: String) throws {
        let ours = try ImageFile.read(output.appendingPathComponent("astronaut.png"))
        #expect(ImageFidelity.psnr(ours, try ImageFile.read(fixtures.appendingPathComponent(fixture)), eightBit: true) >= 40,
                "\(fixture)")
        let parameters = try ImageFile.readTextChunks(output.appendingPathComponent("astronaut.png"))["parameters"] ?? ""
        #expect(parameters.contains("VAE hash: ") && parameters.contains(", VAE: taesd, "), "\(parameters)")
    }
    let result = try runOverpaint(run)
    #expect(result.status == 0, "\(result.stderr)")
    try expectOutput(as: "img2img_taesd.png")

    try String(contentsOf: recipeURL, encoding: .utf8).replacingOccurrences(of: "vae: taesd\n", with: "vae: taesd\nvae_encoder: full\n")
        .write(to: recipeURL, atomically: true, encoding: .utf8)
    let fullEncoding = try runOverpaint(run + ["--resume"])
    #expect(fullEncoding.status == 0 && fullEncoding.stderr.contains("1 done"), "\(fullEncoding.stderr)")
    try expectOutput(as: "img2img_taesd_decoder.png")
}

/// The recipe's VAE, LoRAs and embeddings are part of what `--resume` checks: another VAE file
/// remakes the image and says so.
@Test func resumeRemakesAnImageWhoseVAEChanged() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let vae = folder.appendingPathComponent("myvae")
    try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("vae-override/vae"), to: vae)
    let recipeURL = folder.appendingPathComponent("vae.yaml")
    try """
    seed: 42
    vae: myvae
    edits:
      - img2img: {prompt: "an astronaut", strength: 0.5, steps: 2}
    """.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let run = ["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path, "--resume"]
    #expect(try runOverpaint(run).status == 0)
    let unchanged = try runOverpaint(run)
    #expect(unchanged.status == 0 && !unchanged.stderr.contains("remak"), "\(unchanged.stderr)")
    let weights = vae.appendingPathComponent("diffusion_pytorch_model.safetensors")
    try FileManager.default.removeItem(at: weights)
    try FileManager.default.copyItem(at: model.appendingPathComponent("vae/diffusion_pytorch_model.safetensors"), to: weights)
    let changed = try runOverpaint(run)
    #expect(changed.status == 0 && changed.stderr.contains("vae changed"), "\(changed.stderr)")
}

/// Textual inversion through `overpaint run`: one embedding from `embeddings:`, one found in
/// `embeddings/` beside the recipe because the prompt writes its stem; both change the image and
/// are recorded as A1111's `TI hashes` (their parity is PipelinesTests' TextualInversionTests).
@Test func embeddingsFromTheRecipeAndItsFolderAreUsed() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = try astronautInput(in: folder)
    let fixtures = Fixtures.root.appendingPathComponent("textual-inversion")
    let embeddings = folder.appendingPathComponent("embeddings")
    try FileManager.default.createDirectory(at: embeddings, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("painterly.safetensors"),
                                     to: embeddings.appendingPathComponent("painterly.safetensors"))
    func run(_ prompt: String, _ name: String) throws -> (Image, String) {
        let recipeURL = folder.appendingPathComponent("\(name).yaml")
        try """
        seed: 42
        embeddings: [\(fixtures.appendingPathComponent("shiny.safetensors").path)]
        output: {path: "{stem}-\(name).png"}
        edits:
          - img2img: {prompt: "\(prompt)", strength: 0.75, steps: 4}
        """.write(to: recipeURL, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path,
                                       "--model", model.path, "--overwrite"])
        #expect(result.status == 0, "\(result.stderr)")
        let file = output.appendingPathComponent("astronaut-\(name).png")
        return (try ImageFile.read(file), try ImageFile.readTextChunks(file)["parameters"] ?? "")
    }
    let (plain, plainParameters) = try run("an astronaut in a garden", "plain")
    let (embedded, parameters) = try run("a shiny astronaut in a garden, painterly style", "embedded")
    #expect(plain != embedded)
    #expect(!plainParameters.contains("TI hashes"))
    let hashes = try #require(try JSONSerialization.jsonObject(
        with: Data(contentsOf: fixtures.appendingPathComponent("cases.json"))) as? [String: Any])["hashes"] as? [String: String]
    let shiny = try #require(hashes?["shiny"]), painterly = try #require(hashes?["painterly"])
    #expect(parameters.contains("TI hashes: \"shiny: \(shiny), painterly: \(painterly)\""), "\(parameters)")
}

/// One fused variant per model: the same LoRAs give the same loaded pipeline, another set loads anew
/// (a sidecar naming other LoRAs), and asking without a variant gives whichever is loaded.
@Test func theModelIsFusedAgainOnlyWhenItsLoRAsChange() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder).path
    let kohya = LoRARunTests.fixtures.appendingPathComponent("kohya.safetensors").path
    let cache = ModelCache()
    let first = try cache.stableDiffusion(at: model, variant: .init(loras: [.init(path: kohya, weight: 0.8)]))
    #expect(try cache.stableDiffusion(at: model, variant: .init(loras: [.init(path: kohya, weight: 0.8)])) === first)
    #expect(try cache.stableDiffusion(at: model) === first)
    let other = try cache.stableDiffusion(at: model, variant: .init(loras: [.init(path: kohya, weight: 0.5)]))
    #expect(other !== first)
    #expect(try cache.stableDiffusion(at: model, variant: .init(loras: [.init(path: kohya, weight: 0.5)])) === other)
}

/// A LoRA whose modules the model does not have stops the run before any image (preflight loads
/// the model with it), naming the keys, rather than failing every image.
@Test func aLoRAForAnotherModelStopsTheRunOnce() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.url("pipelines", "input.png"), to: input.appendingPathComponent("astronaut.png"))
    let lora = folder.appendingPathComponent("other.safetensors")
    try SafeTensorsWriter.write(["lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight": Tensor(zeros: [2, 1280]),
                                 "lora_unet_down_blocks_3_attentions_0_proj_in.lora_up.weight": Tensor(zeros: [1280, 2])], to: lora)
    let recipeURL = folder.appendingPathComponent("other.yaml")
    try "loras: [{path: other.safetensors}]\nedits:\n  - img2img: {prompt: a photo, steps: 2}\n"
        .write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--model", model.path])
    #expect(result.status == 2)
    #expect(result.stderr.contains("keys match no module of the model: 'lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight'"),
            "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("astronaut.png").path))
}
