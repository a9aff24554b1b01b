import Foundation
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// lcm_unet_fixtures.py's cases have no keys beyond the sampling settings.
struct NoCaseKeys: Decodable, Sendable {}

/// StableDiffusionImg2ImgPipeline with LCMScheduler on the tiny pipeline with `unet-lcm`, a UNet
/// with a guidance embedding (tools/reference/lcm_unet_fixtures.py): no classifier-free
/// guidance, the scale reaching the UNet as `timestep_cond`. Measured: identical to diffusers
/// (PSNR printed per case).
@Suite struct GuidanceEmbeddingParityTests {
    static let cases: [PipelineReferenceCase<NoCaseKeys>] = Fixtures.namedCases("pipelines", "lcm_cases.json")
    static let pipeline = Result {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusion(folder: tinyPipelineFolder(in: scratch, unet: "unet-lcm"))
    }

    @Test func everyReferenceCaseIsListed() {
        #expect(Self.cases.map(\.name) == ["img2img_guidance_1_5", "img2img_guidance_8"])
    }

    @Test(arguments: cases)
    func img2imgMatchesDiffusers(_ reference: PipelineReferenceCase<NoCaseKeys>) throws {
        let output = try Self.pipeline.get().imageToImage(try PipelineFixtures.image("input.png"),
                                                          options: reference.options(prompt: PipelineFixtures.prompt))
        expectMatchesReference(output, try PipelineFixtures.image("lcm_\(reference.name).png"), reference.name)
    }

    @Test func guidanceGoesThroughTheEmbeddingAlone() throws {
        let options = GenerationOptions(prompt: PipelineFixtures.prompt, guidanceScale: 8)
        let (unguided, embedding) = try Self.pipeline.get().embeddingGuidance(options, controls: [])
        #expect(unguided.guidanceScale == 1 && !unguided.usesGuidance)
        #expect(embedding?.shape == [1, 8])
    }
}
