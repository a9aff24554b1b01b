import Adapters
import Foundation
import OverpaintTestSupport
import Testing
import Weights
@testable import Pipelines

/// SDXL prompt embeddings with SDXL textual inversion files (`clip_l` / `clip_g`) added, against
/// diffusers' `encode_prompt` after `load_textual_inversion` of each half into its tokenizer and
/// text encoder (tools/reference/sdxl_textual_inversion_fixtures.py): a single-vector file and a
/// three-vector one, matched in any case and inside words; and each family's embeddings refused by
/// the other's models.
@Suite struct SDXLTextualInversionTests {
    static let fixtures = EmbeddingFixtures("sdxl-textual-inversion", stems: ["glossy", "watercolor"])

    @Test(arguments: ["both", "mid_word_and_case", "none"])
    func promptEmbeddingsMatchDiffusers(name: String) throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let spec = try Self.fixtures.prompts(of: name)
        let pipeline = try StableDiffusion(folder: try tinySDXLFolder(in: scratch)).addingEmbeddings(Self.fixtures.embeddings())
        let options = GenerationOptions(prompt: try #require(spec["prompt"]), negativePrompt: try #require(spec["negative"]),
                                        negativePromptGiven: true)
        let conditioning = try pipeline.sdxlConditioning(try #require(pipeline.sdxl), options: options, width: 64, height: 64)
        let pooled = try #require(conditioning.addedConditions).textEmbeds
        let expected = try SafeTensorsFile(url: Self.fixtures.url("\(name).safetensors"))
        func reference(_ key: String) throws -> [Float] {
            try expected.tensor(named: "negative_\(key)").scalars + expected.tensor(named: key).scalars
        }
        #expect(conditioning.encoderHiddenStates.shape == [2, 77, 24])
        #expect(pooled.shape == [2, 12])
        let statesError = zip(conditioning.encoderHiddenStates.scalars, try reference("prompt_embeds")).map { abs($0 - $1) }.max() ?? .infinity
        let pooledError = zip(pooled.scalars, try reference("pooled_prompt_embeds")).map { abs($0 - $1) }.max() ?? .infinity
        print("SDXL textual inversion \(name): max error states \(statesError), pooled \(pooledError)")
        #expect(statesError <= 1e-4, "\(name): max error \(statesError)")
        #expect(pooledError <= 1e-4, "\(name): pooled max error \(pooledError)")
    }

    @Test func bothHalvesAreRead() throws {
        let embeddings = try Self.fixtures.embeddings()
        #expect(embeddings.map(\.token) == ["glossy", "watercolor"])
        #expect(embeddings.map(\.vectors.shape) == [[1, 8], [3, 8]])
        #expect(embeddings.map { $0.secondEncoderVectors?.shape } == [[1, 16], [3, 16]])
    }

    /// The one-line messages `overpaint validate` and `run` show, naming the file and the mismatch.
    @Test func anSDXLEmbeddingIsRefusedBySD1() throws {
        let embedding = try TextualInversion(url: Self.fixtures.url("glossy.safetensors"))
        let pipeline = try PipelineFixtures.pipeline(inpainting: false)
        let error = #expect(throws: AdapterError.self) { try pipeline.addingEmbeddings([embedding]) }
        #expect(error?.errorDescription == "\(embedding.path): an SDXL embedding (clip_l / clip_g), but the model is not SDXL")
    }

    @Test func anSD1EmbeddingIsRefusedBySDXL() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let embedding = try TextualInversion(url: Fixtures.url("textual-inversion", "shiny.safetensors"))
        let pipeline = try StableDiffusion(folder: try tinySDXLFolder(in: scratch))
        let error = #expect(throws: AdapterError.self) { try pipeline.addingEmbeddings([embedding]) }
        #expect(error?.errorDescription == "\(embedding.path): an SD 1.x / 2.x embedding (one tensor), but the model is SDXL, "
                + "which takes SDXL embeddings (clip_l / clip_g)")
    }
}
