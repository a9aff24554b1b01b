import Adapters
import Foundation
import OverpaintTestSupport
import Testing
import Weights
@testable import Pipelines

/// Prompt embeddings with textual inversion files added, against diffusers' `encode_prompt` after
/// `load_textual_inversion(file, token=stem)` of each (tools/reference/textual_inversion_fixtures.py):
/// a single-vector diffusers file and a three-vector `emb_params` one, matched in any case and inside words.
@Suite struct TextualInversionTests {
    static let fixtures = EmbeddingFixtures("textual-inversion", stems: ["shiny", "painterly"])

    @Test(arguments: ["both", "mid_word_and_case", "none"])
    func promptEmbeddingsMatchDiffusers(name: String) throws {
        let spec = try Self.fixtures.prompts(of: name)
        let pipeline = try PipelineFixtures.pipeline(inpainting: false).addingEmbeddings(Self.fixtures.embeddings())
        let options = GenerationOptions(prompt: try #require(spec["prompt"]), negativePrompt: try #require(spec["negative"]))
        let states = try pipeline.encoderHiddenStates(options)
        let expected = try SafeTensorsFile(url: Self.fixtures.url("\(name).safetensors"))
        let reference = try expected.tensor(named: "negative_prompt_embeds").scalars + expected.tensor(named: "prompt_embeds").scalars
        #expect(states.shape == [2, 77, 16])
        let error = zip(states.scalars, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-4, "\(name): max error \(error)")
    }

    @Test func theVectorsAreRead() throws {
        let embeddings = try Self.fixtures.embeddings()
        #expect(embeddings.map(\.token) == ["shiny", "painterly"])
        #expect(embeddings.map(\.vectors.shape) == [[1, 16], [3, 16]])
    }

    @Test func aTokenOfTheVocabularyIsRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-ti-\(UUID().uuidString)/paint.safetensors")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try FileManager.default.copyItem(at: Self.fixtures.url("shiny.safetensors"), to: url)
        let pipeline = try PipelineFixtures.pipeline(inpainting: false)
        #expect(throws: AdapterError.self) { try pipeline.addingEmbeddings([TextualInversion(url: url)]) }
        #expect(throws: AdapterError.self) {
            try pipeline.addingEmbeddings([TextualInversion(url: Fixtures.root.appendingPathComponent("lora/kohya.safetensors"))])
        }
    }
}
