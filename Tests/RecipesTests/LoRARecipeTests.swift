import Foundation
import Testing
@testable import Recipes

/// Tests/Fixtures, found from this file's path (this target does not link OverpaintTestSupport,
/// whose `Fixtures.root` it is).
private let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// `loras: [{path, weight}]` and `<lora:name:weight>` in prompts, as `validate` checks them.
@Suite struct LoRARecipeTests {
    static let fixtures = fixtureRoot.appendingPathComponent("lora")

    /// A recipe folder with `loras/detail.safetensors` (the kohya fixture) and a file that is no LoRA.
    static func recipeFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-lora-recipes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("loras"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("kohya.safetensors"),
                                         to: folder.appendingPathComponent("loras/detail.safetensors"))
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("kohya_0.8.safetensors"),
                                         to: folder.appendingPathComponent("fused-weights.safetensors"))
        return folder
    }

    func load(_ yaml: String, in folder: URL, environment: [String: String] = [:]) throws -> Recipe {
        let url = folder.appendingPathComponent("recipe.yaml")
        try ("model: /\n" + yaml).write(to: url, atomically: true, encoding: .utf8)
        return try RecipeLoader(environment: environment).load(url)
    }

    func issues(_ yaml: String, in folder: URL) -> [RecipeIssue] {
        do {
            _ = try load(yaml, in: folder)
            return []
        } catch {
            guard case .invalid(_, let issues) = error as? RecipeError else { return [] }
            return issues
        }
    }

    @Test func lorasAreResolvedBesideTheRecipe() throws {
        let folder = try Self.recipeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = try load("""
        loras:
          - {path: loras/detail.safetensors, weight: 0.8}
          - {path: loras/detail.safetensors}
        edits:
          - img2img: {prompt: "a photo, <lora:detail:0.5>"}
        """, in: folder)
        let file = folder.appendingPathComponent("loras/detail.safetensors").standardizedFileURL.path
        #expect(recipe.loras == [Recipe.LoRA(path: file, weight: 0.8), Recipe.LoRA(path: file, weight: 1)])
        #expect(recipe.loraFolders.file(named: "detail")?.path == file)
    }

    @Test func promptNamesAreLookedUpInOrder() throws {
        let folder = try Self.recipeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let elsewhere = folder.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("locon.safetensors"),
                                         to: elsewhere.appendingPathComponent("conv.safetensors"))
        let folders = NamedFileFolders.loras(recipe: folder.appendingPathComponent("recipe.yaml"),
                                             environment: ["OVERPAINT_LORAS": elsewhere.path], workingFolder: folder)
        #expect(folders.file(named: "conv")?.path == elsewhere.appendingPathComponent("conv.safetensors").path)
        #expect(folders.file(named: "detail")?.lastPathComponent == "detail.safetensors")
        #expect(folders.file(named: "missing") == nil)
    }

    @Test func missingAndInvalidLoRAsAreReported() throws {
        let folder = try Self.recipeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let found = issues("""
        loras:
          - {path: loras/none.safetensors, weight: 0.8}
          - {path: fused-weights.safetensors}
          - {weight: 2}
        edits:
          - img2img: {prompt: "a photo <lora:absent:1>, <lora:detail:x>"}
        """, in: folder)
        #expect(found.map(\.keyPath) == ["loras[0].path", "loras[1].path", "loras[2]", "edits[0].img2img.prompt"])
        #expect(found[0].message.hasPrefix("no LoRA at "))
        #expect(found[1].message.contains("not a LoRA / LyCORIS key layout"))
        #expect(found[2].message == "missing required key 'path'")
        #expect(found[3].message.contains("the weight 'x' is not a number"))
        let absent = issues("edits:\n  - img2img: {prompt: \"a photo <lora:absent:1>\"}", in: folder)
        #expect(absent.first?.message.hasPrefix("no LoRA 'absent' (absent.safetensors) in ") == true)
    }
}

/// `vae:` as `validate` checks it.
@Suite struct VAERecipeTests {
    static let fixtures = fixtureRoot

    func issues(_ vae: String) -> [RecipeIssue] {
        let url = Self.fixtures.appendingPathComponent("vae-override/recipe.yaml")
        do {
            _ = try RecipeLoader().parse("model: /\nvae: \(vae)\nedits:\n  - img2img: {prompt: a}\n", source: url)
            return []
        } catch {
            guard case .invalid(_, let issues) = error else { return [] }
            return issues
        }
    }

    @Test func aFolderOrAFileIsResolvedBesideTheRecipe() throws {
        let url = Self.fixtures.appendingPathComponent("vae-override/recipe.yaml")
        let recipe = try RecipeLoader().parse("model: /\nvae: vae-ldm.safetensors\nedits:\n  - img2img: {prompt: a}\n", source: url)
        #expect(recipe.vae == Self.fixtures.appendingPathComponent("vae-override/vae-ldm.safetensors").path)
        #expect(issues("vae").isEmpty)
    }

    @Test func theTinyAutoencodersAreKeptByName() throws {
        for name in ["taesd", "TAESDXL"] {
            let recipe = try RecipeLoader().parse("model: /\nvae: \(name)\nedits:\n  - img2img: {prompt: a}\n", source: Self.fixtures)
            #expect(recipe.vae == name.lowercased())
            #expect(issues(name).isEmpty)
        }
    }

    /// `vae_encoder:` is unset (the tiny autoencoder encodes) unless given; it needs a `vae:`, and
    /// a value other than full or tiny is refused with the choices.
    @Test func theEncoderIsChosenOnlyBesideAVAE() throws {
        let recipe = try RecipeLoader().parse("model: /\nvae: taesd\nedits:\n  - img2img: {prompt: a}\n", source: Self.fixtures)
        #expect(recipe.vaeEncoder == nil)
        let full = try RecipeLoader().parse("model: /\nvae: taesd\nvae_encoder: full\nedits:\n  - img2img: {prompt: a}\n",
                                            source: Self.fixtures)
        #expect(full.vaeEncoder == .full)
        func issues(_ text: String) -> [String] {
            do {
                _ = try RecipeLoader().parse(text, source: Self.fixtures)
                return []
            } catch {
                guard case .invalid(_, let issues) = error else { return [] }
                return issues.map(\.message)
            }
        }
        #expect(issues("model: /\nvae_encoder: full\nedits:\n  - img2img: {prompt: a}\n")
                == ["vae_encoder needs a tiny autoencoder as vae (taesd, taesdxl or an AutoencoderTiny folder)"])
        #expect(issues("model: /\nvae: taesd\nvae_encoder: half\nedits:\n  - img2img: {prompt: a}\n").first?.contains("full") == true)
    }

    @Test func whatIsNoVAEIsReported() {
        #expect(issues("taesd2").first?.message.hasPrefix("no VAE at ") == true)
        #expect(issues("none.safetensors").first?.message.hasPrefix("no VAE at ") == true)
        #expect(issues("../lora/kohya.safetensors").first?.message.contains("not a VAE") == true)
        #expect(issues("../lora").first?.message.contains("without config.json") == true)
    }
}

/// `embeddings:` as `validate` checks it.
@Suite struct EmbeddingRecipeTests {
    static let url = VAERecipeTests.fixtures.appendingPathComponent("textual-inversion/recipe.yaml")

    @Test func embeddingsAreResolvedAndRead() throws {
        let recipe = try RecipeLoader().parse("model: /\nembeddings: [shiny.safetensors, painterly.safetensors]\nedits:\n  - img2img: {prompt: a}\n",
                                              source: Self.url)
        #expect(recipe.embeddings.map { URL(fileURLWithPath: $0).lastPathComponent } == ["shiny.safetensors", "painterly.safetensors"])
        #expect(recipe.embeddingFolders.roots.first?.lastPathComponent == "embeddings")
    }

    @Test func whatIsNoEmbeddingIsReported() {
        do {
            _ = try RecipeLoader().parse("model: /\nembeddings: [absent.safetensors, ../lora/kohya.safetensors]\nedits:\n  - img2img: {prompt: a}\n",
                                         source: Self.url)
            Issue.record("accepted")
        } catch {
            guard case .invalid(_, let issues) = error else { return }
            #expect(issues.map(\.keyPath) == ["embeddings[0]", "embeddings[1]"])
            #expect(issues[0].message.hasPrefix("no embedding at "))
            #expect(issues[1].message.contains("not one embedding"))
        }
    }
}
