import Foundation
import Imaging
import Testing
@testable import Pipelines

/// img2img against diffusers' StableDiffusionImg2ImgPipeline on the tiny pipeline
/// (tools/reference/pipeline_fixtures.py, CASES img2img_*): prompt PROMPT, strength 0.75,
/// 10 steps, guidance 7.5, `generator=torch.Generator("cpu").manual_seed(42)`.
@Suite struct ImageToImageTests {
    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }

    func run(_ scheduler: String?, eta: Float = 0) throws -> (Image, Image) {
        let pipeline = try Self.pipeline.get()
        let options = GenerationOptions(prompt: PipelineFixtures.prompt, steps: 10, guidanceScale: 7.5,
                                        strength: 0.75, seed: 42, scheduler: scheduler, eta: eta)
        let output = try pipeline.imageToImage(try PipelineFixtures.image("input.png"), options: options)
        return (output, try PipelineFixtures.image(scheduler.map { "img2img_\($0 == "ddim" ? "ddim_eta" : $0).png" }
                                                   ?? "img2img_pndm.png"))
    }

    @Test func defaultSchedulerMatchesDiffusers() throws {
        let (output, expected) = try run(nil)
        let psnr = PipelineFixtures.psnr(output, expected)
        print("img2img pndm PSNR \(psnr) dB")
        #expect(output.width == 64 && output.height == 64 && output.channels == 3)
        #expect(psnr >= 40)
    }

    @Test func ddimWithEtaMatchesDiffusers() throws {
        let (output, expected) = try run("ddim", eta: 0.5)
        let psnr = PipelineFixtures.psnr(output, expected)
        print("img2img ddim eta 0.5 PSNR \(psnr) dB")
        #expect(psnr >= 40)
    }

    @Test func eulerAncestralMatchesDiffusers() throws {
        let (output, expected) = try run("euler_a")
        let psnr = PipelineFixtures.psnr(output, expected)
        print("img2img euler_a PSNR \(psnr) dB")
        #expect(psnr >= 40)
    }
}
