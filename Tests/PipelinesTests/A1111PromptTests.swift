import Foundation
import OverpaintTestSupport
import Prompts
import Tensors
import Testing
import Weights
@testable import Pipelines

/// AUTOMATIC1111's prompt syntax and "Original" emphasis through the text encoder, against
/// tools/reference/a1111_prompt_fixtures.py (a reference implementation of A1111's
/// prompt_parser / sd_hijack_clip / sd_emphasis on the real CLIP tokenizer and sd-tiny's
/// CLIP text model), at the long-prompt tests' tolerance.
@Suite struct A1111PromptTests {
    struct Fixture: Decodable {
        struct Prompt: Decodable {
            var name: String
            var text: String
            var clipSkip: Int
            var fragments: [Fragment]
            var chunks: [[Int]]
            var multipliers: [[Double]]
        }
        /// `[text, weight]`; `["BREAK", -1]` is a chunk break.
        struct Fragment: Decodable {
            var text: String
            var weight: Double
            init(from decoder: Decoder) throws {
                var pair = try decoder.unkeyedContainer()
                text = try pair.decode(String.self)
                weight = try pair.decode(Double.self)
            }
        }
        struct Pair: Decodable { var name: String; var prompt: String; var negative: String; var chunks: Int }
        var prompts: [Prompt]
        var pairs: [Pair]
    }

    static let folder = Fixtures.root.appendingPathComponent("prompts")
    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }
    static let fixture = Result {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Fixture.self, from: Data(contentsOf: folder.appendingPathComponent("a1111_prompts.json")))
    }
    static let tensors = Result { try SafeTensorsFile(url: folder.appendingPathComponent("a1111_prompts.safetensors")) }

    /// A1111's Clip skip n is diffusers' n - 1.
    static func diffusersClipSkip(_ a1111: Int) -> Int? { a1111 > 1 ? a1111 - 1 : nil }

    @Test func fragmentsAndWeightsAreA1111s() throws {
        let prompts = try Self.fixture.get().prompts
        #expect(prompts.count == 17)
        for prompt in prompts {
            let expected = prompt.fragments.map { fragment -> WeightedPrompt.Piece in
                fragment.text == "BREAK" && fragment.weight == -1 ? .chunkBreak : .text(fragment.text, weight: fragment.weight)
            }
            #expect(try WeightedPrompt(prompt.text).pieces == expected, "\(prompt.name)")
        }
    }

    @Test func chunksAndTokenWeightsAreA1111s() throws {
        let pipeline = try Self.pipeline.get()
        let chunker = PromptChunker(tokenizer: pipeline.tokenizer)
        for prompt in try Self.fixture.get().prompts {
            let runs = try WeightedPrompt(prompt.text).pieces.map { piece -> PromptChunker.Run in
                switch piece {
                case .text(let text, let weight): .tokens(pipeline.tokenizer.contentIDs(text), weight: weight)
                case .chunkBreak: .chunkBreak
                }
            }
            let chunks = chunker.chunks(runs)
            #expect(chunks.map(\.ids) == prompt.chunks, "\(prompt.name)")
            #expect(chunks.map(\.weights) == prompt.multipliers.map { $0.map(Float.init) }, "\(prompt.name)")
        }
    }

    @Test func weightedEmbeddingsMatchTheReference() throws {
        let pipeline = try Self.pipeline.get()
        for prompt in try Self.fixture.get().prompts {
            let reference = try Self.tensors.get().tensor(named: prompt.name)
            let ours = try pipeline.textEmbeddings(prompt.text, clipSkip: Self.diffusersClipSkip(prompt.clipSkip))
            #expect(ours.shape == [1, 77 * prompt.chunks.count, 16], "\(prompt.name)")
            #expect(maxErrorRelativeToPeak(ours, reference) < 1e-4, "\(prompt.name)")
        }
    }

    /// Emphasis changes the embeddings it touches: a weighted prompt is not its plain text.
    @Test func weightsChangeTheEmbeddings() throws {
        let pipeline = try Self.pipeline.get()
        #expect(try pipeline.textEmbeddings("a (red:1.3) cat") != pipeline.textEmbeddings("a red cat"))
        #expect(try pipeline.textEmbeddings("a (red:1) cat") == pipeline.textEmbeddings("a red cat"))
        #expect(try pipeline.textEmbeddings("a \\(red\\) cat") != pipeline.textEmbeddings("a red cat"))
    }

    /// With guidance, a weighted negative prompt and the positive one, the shorter extended
    /// by the empty prompt's embeddings.
    @Test func weightedNegativePromptsPairAsTheReference() throws {
        let pipeline = try Self.pipeline.get()
        for pair in try Self.fixture.get().pairs {
            try PromptChunkTests.expectGuidedPair(pair.name, prompt: pair.prompt, negative: pair.negative,
                                                  chunks: pair.chunks, pipeline: pipeline, reference: Self.tensors.get())
        }
    }

    /// Where the padding token is not the end token (SD 2), a chunk is start, text, end, then
    /// padding, as A1111's `process_tokens` makes it; a BREAK at the start leaves an empty chunk.
    @Test func paddingFollowsTheEndToken() {
        let chunker = PromptChunker(startToken: 1, endToken: 2, padToken: 0, commaToken: 3)
        let chunks = chunker.chunks([.tokens([], weight: 1), .chunkBreak, .tokens([7, 8], weight: 1.5)])
        #expect(chunks.map(\.ids) == [[1, 2] + [Int](repeating: 0, count: 75), [1, 7, 8, 2] + [Int](repeating: 0, count: 73)])
        #expect(chunks[1].weights == [1, 1.5, 1.5] + [Float](repeating: 1, count: 74))
    }

    /// Syntax that is not applied is refused by the pipeline too (sidecar prompts reach it
    /// without `validate`); composable diffusion only in the prompt, as A1111 reads it.
    @Test func unsupportedSyntaxIsRefusedNotEncoded() throws {
        let pipeline = try Self.pipeline.get()
        for prompt in ["a [cat:dog:5]", "a [cat|dog]", "<lora:x:1> cat", "a cat AND a dog", "a cat:1.2"] {
            #expect(throws: PromptSyntaxError.self, "\(prompt)") {
                try pipeline.encoderHiddenStates(GenerationOptions(prompt: prompt, guidanceScale: 1))
            }
        }
        #expect(throws: PromptSyntaxError.self) {
            try pipeline.encoderHiddenStates(GenerationOptions(prompt: "a cat", negativePrompt: "[x|y]"))
        }
        _ = try pipeline.encoderHiddenStates(GenerationOptions(prompt: "a cat", negativePrompt: "dogs AND cats, 16:9"))
    }
}
