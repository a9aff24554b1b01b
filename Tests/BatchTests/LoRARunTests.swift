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

    /// The tiny pipeline and the astronaut, with a recipe folder whose `loras/` holds the kohya
    /// and LoCon fixtures.
    static func setUp(_ test: String = #function) throws -> RecipeRun {
        let run = try RecipeRun.tinyPipeline(test)
        let loras = run.folder.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: loras, withIntermediateDirectories: true)
        for name in ["kohya", "locon"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("\(name).safetensors"),
                                             to: loras.appendingPathComponent("\(name).safetensors"))
        }
        return run
    }

    @Test func lorasFromTheRecipeAndThePromptMatchDiffusers() throws {
        let run = try Self.setUp()
        defer { run.remove() }
        let recipe = try run.recipe("""
        seed: 42
        loras: [{path: loras/kohya.safetensors, weight: 0.8}]
        edits:
          - img2img: {prompt: "an astronaut in a garden, oil painting<lora:locon>", strength: 0.75, steps: 8, guidance: 7.5}
        """, named: "lora.yaml")
        try run.validateAndRunSucceeding(recipe)
        let ours = try run.outputImage()
        let reference = try Fixtures.image("lora", "img2img_lora.png")
        #expect(ImageFidelity.psnr(ours, reference, eightBit: true) >= 40)
        let withoutLoRA = try Fixtures.image("pipelines", "input.png")
        #expect(ImageFidelity.psnr(ours, withoutLoRA, eightBit: true) < 40)

        let hashes = try #require(try fixtureHashes())
        let parameters = try run.outputParameters()
        #expect(parameters.hasPrefix("an astronaut in a garden, oil painting<lora:locon>\n"))
        let kohya = try #require(hashes["kohya.safetensors"]), locon = try #require(hashes["locon.safetensors"])
        #expect(parameters.contains("Lora hashes: \"kohya: \(kohya), locon: \(locon)\""), "\(parameters)")
    }

    /// An LCM-LoRA (its published layout: kohya keys with diffusers names, f16, alpha / rank not 1)
    /// from `loras:` with the LCM scheduler at guidance 1, as recipes/README.md's few-step recipes
    /// use it, against diffusers' StableDiffusionImg2ImgPipeline after `load_lora_weights` +
    /// `fuse_lora` with LCMScheduler (tools/reference/fewstep_lora_fixtures.py, img2img_lcm.png).
    @Test func anLCMLoRAFromTheRecipeMatchesDiffusers() throws {
        let run = try RecipeRun.tinyPipeline()
        defer { run.remove() }
        let loras = run.folder.appendingPathComponent("loras")
        try FileManager.default.createDirectory(at: loras, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("fewstep-lora", "sd_lcm.safetensors"),
                                         to: loras.appendingPathComponent("lcm.safetensors"))
        let spec = try #require(try Fixtures.json("fewstep-lora", "cases.json")["img2img"] as? [String: Any])
        let prompt = try #require(spec["prompt"] as? String)
        try run.validateAndRunSucceeding(try run.recipe("""
        seed: 42
        loras: [{path: loras/lcm.safetensors, weight: 1}]
        edits:
          - img2img: {prompt: "\(prompt)", scheduler: lcm, strength: 0.5, steps: 8, guidance: 1}
        """, named: "lcm.yaml"))
        let ours = try run.outputImage()
        let reference = try Fixtures.image("fewstep-lora", "img2img_lcm.png")
        #expect(ImageFidelity.psnr(ours, reference, eightBit: true) >= 40)
        #expect(try run.outputParameters().contains("Sampler: LCM, "))
    }

    /// A sidecar prompt naming a LoRA no folder has fails that image alone, naming the LoRA.
    @Test func anUnknownLoRAInASidecarFailsThatImage() throws {
        let run = try Self.setUp()
        defer { run.remove() }
        try "a photo <lora:nowhere:0.5>".write(to: run.input.appendingPathComponent("astronaut.txt"), atomically: true, encoding: .utf8)
        let result = try run.run(try run.recipe("""
        match: {images: ["*.png"], prompt: "{stem}.txt"}
        edits:
          - img2img: {prompt: "unused", steps: 2}
        """, named: "lora.yaml"))
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
    let run = try RecipeRun.tinyPipeline()
    defer { run.remove() }
    let recipe = try run.recipe("""
    seed: 42
    vae: \(Fixtures.url("vae-override", vae).path)
    edits:
      - img2img: {prompt: "an astronaut in a garden, oil painting", strength: 0.75, steps: 6, guidance: 7.5}
    """, named: "vae.yaml")
    try run.validateAndRunSucceeding(recipe)
    #expect(ImageFidelity.psnr(try run.outputImage(), try Fixtures.image("vae-override", "img2img_vae.png"), eightBit: true) >= 40)
    let parameters = try run.outputParameters()
    #expect(parameters.contains(", VAE: \(vae), Denoising strength: 0.75"), "\(parameters)")
    #expect(parameters.contains("VAE hash: "))
}

/// `vae: taesd` through `overpaint run`: the tiny autoencoder folder found by name in models/
/// beside the recipe, against diffusers' img2img with AutoencoderTiny as its VAE, and with
/// `vae_encoder: full` against that pipeline with the model's VAE encoding and AutoencoderTiny decoding
/// (tools/reference/taesd_fixtures.py); without that folder, validate and run refuse the recipe
/// before any image, naming where they looked.
@Test func theTinyAutoencoderIsFoundByNameAndMatchesDiffusers() throws {
    let run = try RecipeRun.tinyPipeline()
    defer { run.remove() }
    let recipe = try run.recipe("""
    seed: 42
    vae: taesd
    edits:
      - img2img: {prompt: "an astronaut in a garden, oil painting", strength: 0.75, steps: 6, guidance: 7.5}
    """, named: "taesd.yaml")
    let missing = try run.run(recipe)
    #expect(missing.status == 2 && missing.stderr.contains("no tiny autoencoder folder 'taesd'"), "\(missing.stderr)")
    #expect(try run.validate(recipe).status == 2)

    let models = run.folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.url("taesd", "taesd"), to: models.appendingPathComponent("taesd"))
    func expectOutput(as fixture: String) throws {
        #expect(ImageFidelity.psnr(try run.outputImage(), try Fixtures.image("taesd", fixture), eightBit: true) >= 40, "\(fixture)")
        let parameters = try run.outputParameters()
        #expect(parameters.contains("VAE hash: ") && parameters.contains(", VAE: taesd, "), "\(parameters)")
    }
    try run.validateAndRunSucceeding(recipe)
    try expectOutput(as: "img2img_taesd.png")

    try String(contentsOf: recipe, encoding: .utf8).replacingOccurrences(of: "vae: taesd\n", with: "vae: taesd\nvae_encoder: full\n")
        .write(to: recipe, atomically: true, encoding: .utf8)
    let fullEncoding = try run.run(recipe, ["--resume"])
    #expect(fullEncoding.status == 0 && fullEncoding.stderr.contains("1 done"), "\(fullEncoding.stderr)")
    try expectOutput(as: "img2img_taesd_decoder.png")
}

/// The recipe's VAE, LoRAs and embeddings are part of what `--resume` checks: another VAE file
/// remakes the image and says so.
@Test func resumeRemakesAnImageWhoseVAEChanged() throws {
    let run = try RecipeRun.tinyPipeline()
    defer { run.remove() }
    let vae = run.folder.appendingPathComponent("myvae")
    try FileManager.default.copyItem(at: Fixtures.url("vae-override", "vae"), to: vae)
    let recipe = try run.recipe("""
    seed: 42
    vae: myvae
    edits:
      - img2img: {prompt: "an astronaut", strength: 0.5, steps: 2}
    """, named: "vae.yaml")
    #expect(try run.run(recipe, ["--resume"]).status == 0)
    let unchanged = try run.run(recipe, ["--resume"])
    #expect(unchanged.status == 0 && !unchanged.stderr.contains("remak"), "\(unchanged.stderr)")
    let weights = vae.appendingPathComponent("diffusion_pytorch_model.safetensors")
    try FileManager.default.removeItem(at: weights)
    try FileManager.default.copyItem(at: try #require(run.model).appendingPathComponent("vae/diffusion_pytorch_model.safetensors"), to: weights)
    let changed = try run.run(recipe, ["--resume"])
    #expect(changed.status == 0 && changed.stderr.contains("vae changed"), "\(changed.stderr)")
}

/// Textual inversion through `overpaint run`, SD 1.x and SDXL (clip_l / clip_g): one embedding
/// from `embeddings:`, one found in `embeddings/` beside the recipe because the prompt writes its
/// stem; both change the image and are recorded as A1111's `TI hashes` (their parity is
/// PipelinesTests' TextualInversionTests and SDXLTextualInversionTests).
@Test(arguments: [
    EmbeddingRun(sdxl: false, fixtures: "textual-inversion", listed: "shiny", found: "painterly"),
    EmbeddingRun(sdxl: true, fixtures: "sdxl-textual-inversion", listed: "glossy", found: "watercolor"),
])
func embeddingsFromTheRecipeAndItsFolderAreUsed(_ embedding: EmbeddingRun) throws {
    let run = try embedding.sdxl ? RecipeRun.tinySDXL() : RecipeRun.tinyPipeline()
    defer { run.remove() }
    let fixtures = Fixtures.root.appendingPathComponent(embedding.fixtures)
    let embeddings = run.folder.appendingPathComponent("embeddings")
    try FileManager.default.createDirectory(at: embeddings, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("\(embedding.found).safetensors"),
                                     to: embeddings.appendingPathComponent("\(embedding.found).safetensors"))
    func edit(_ prompt: String, _ name: String) throws -> (Image, String) {
        try run.runSucceeding(try run.recipe("""
        seed: 42
        embeddings: [\(fixtures.appendingPathComponent("\(embedding.listed).safetensors").path)]
        output: {path: "{stem}-\(name).png"}
        edits:
          - img2img: {prompt: "\(prompt)", strength: 0.75, steps: 4}
        """, named: "\(name).yaml"), ["--overwrite"])
        return (try run.outputImage("astronaut-\(name).png"), try run.outputParameters("astronaut-\(name).png"))
    }
    let (plain, plainParameters) = try edit("an astronaut in a garden", "plain")
    let (embedded, parameters) = try edit("a \(embedding.listed) astronaut in a garden, \(embedding.found) style", "embedded")
    #expect(plain != embedded)
    #expect(!plainParameters.contains("TI hashes"))
    let hashes = try #require(try JSONSerialization.jsonObject(
        with: Data(contentsOf: fixtures.appendingPathComponent("cases.json"))) as? [String: Any])["hashes"] as? [String: String]
    let listed = try #require(hashes?[embedding.listed]), found = try #require(hashes?[embedding.found])
    #expect(parameters.contains("TI hashes: \"\(embedding.listed): \(listed), \(embedding.found): \(found)\""), "\(parameters)")
}

/// An embedding run's model family, fixture folder, the embedding the recipe lists and the one
/// found in `embeddings/` by its stem.
struct EmbeddingRun: Sendable, CustomTestStringConvertible {
    let sdxl: Bool
    let fixtures, listed, found: String
    var testDescription: String { sdxl ? "SDXL" : "SD 1.x" }
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
    let run = try RecipeRun.tinyPipeline()
    defer { run.remove() }
    let lora = run.folder.appendingPathComponent("other.safetensors")
    try SafeTensorsWriter.write(["lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight": Tensor(zeros: [2, 1280]),
                                 "lora_unet_down_blocks_3_attentions_0_proj_in.lora_up.weight": Tensor(zeros: [1280, 2])], to: lora)
    let result = try run.run(try run.recipe("loras: [{path: other.safetensors}]\nedits:\n  - img2img: {prompt: a photo, steps: 2}\n",
                                            named: "other.yaml"))
    #expect(result.status == 2)
    #expect(result.stderr.contains("keys match no module of the model: 'lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight'"),
            "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: run.output.appendingPathComponent("astronaut.png").path))
}
