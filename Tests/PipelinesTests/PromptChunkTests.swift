import Foundation
import Imaging
import OverpaintTestSupport
import Tensors
import Testing
import Weights
@testable import Pipelines

/// Prompts over 75 tokens, chunked as AUTOMATIC1111 does, against
/// tools/reference/prompt_chunk_fixtures.py (transformers' CLIPTokenizer over the real
/// vocabulary and sd-tiny's CLIP text model).
@Suite struct PromptChunkTests {
    struct Fixture: Decodable {
        struct Prompt: Decodable { var name: String; var text: String; var chunks: [[Int]] }
        struct Pair: Decodable { var name: String; var prompt: String; var negative: String; var chunks: Int }
        var prompts: [Prompt]
        var pairs: [Pair]
    }

    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }
    static let fixture = Result { try Fixtures.decoded(Fixture.self, "pipelines", "prompt_chunks.json") }
    static let tensors = Result {
        try SafeTensorsFile(url: PipelineFixtures.folder.appendingPathComponent("prompt_chunks.safetensors"))
    }

    @Test func everyPromptIsChunkedAsA1111() throws {
        let tokenizer = try Self.pipeline.get().tokenizer
        let chunker = PromptChunker(tokenizer: tokenizer)
        let prompts = try Self.fixture.get().prompts
        #expect(prompts.map(\.chunks.count) == [2, 2, 3, 1, 2])
        for prompt in prompts {
            #expect(chunker.chunks([.tokens(tokenizer.contentIDs(prompt.text), weight: 1)]).map(\.ids) == prompt.chunks,
                    "\(prompt.name)")
        }
    }

    @Test func chunkedEmbeddingsMatchTheReference() throws {
        let pipeline = try Self.pipeline.get()
        for prompt in try Self.fixture.get().prompts {
            let reference = try Self.tensors.get().tensor(named: prompt.name)
            let ours = try pipeline.textEmbeddings(prompt.text)
            #expect(ours.shape == [1, 77 * prompt.chunks.count, 16], "\(prompt.name)")
            #expect(maxErrorRelativeToPeak(ours, reference) < 1e-4, "\(prompt.name)")
        }
    }

    /// With guidance, the side with fewer chunks is extended by the empty prompt's embeddings.
    @Test func negativeAndPositiveGetTheSameChunkCount() throws {
        let pipeline = try Self.pipeline.get()
        for pair in try Self.fixture.get().pairs {
            try Self.expectGuidedPair(pair.name, prompt: pair.prompt, negative: pair.negative, chunks: pair.chunks,
                                      pipeline: pipeline, reference: Self.tensors.get())
        }
    }

    /// `encoderHiddenStates` of a guided pair: `chunks` chunks each side, the negative's half
    /// matching the reference's `<name>.uncond` and the prompt's `<name>.cond`.
    static func expectGuidedPair(_ name: String, prompt: String, negative: String, chunks: Int,
                                 pipeline: StableDiffusion, reference: SafeTensorsFile) throws {
        let options = GenerationOptions(prompt: prompt, negativePrompt: negative, guidanceScale: 7.5)
        let states = try pipeline.encoderHiddenStates(options)
        #expect(states.shape == [2, 77 * chunks, 16], "\(name)")
        let halves = states.chunked(2, axis: 0)
        #expect(maxErrorRelativeToPeak(halves[0], try reference.tensor(named: name + ".uncond")) < 1e-4, "\(name)")
        #expect(maxErrorRelativeToPeak(halves[1], try reference.tensor(named: name + ".cond")) < 1e-4, "\(name)")
    }

    /// The UNet (and its cross-attention) takes the longer context: a three-chunk prompt runs
    /// img2img to a valid image that differs from its subject's alone.
    @Test func aLongPromptDrivesTheUNet() throws {
        let pipeline = try Self.pipeline.get()
        let long = try #require(try Self.fixture.get().prompts.first { $0.name == "three_chunks" })
        let image = try PipelineFixtures.image("input.png")
        func run(_ prompt: String) throws -> Image {
            try pipeline.imageToImage(image, options: GenerationOptions(prompt: prompt, steps: 2, strength: 1, seed: 3))
        }
        let chunked = try run(long.text)
        #expect(chunked.width == 64 && !chunked.samples.contains { $0.isNaN })
        #expect(chunked != (try run("a photo of an astronaut riding a horse on the moon")))
    }
}
