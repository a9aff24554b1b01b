import Foundation
import Imaging
import Testing
@testable import Pipelines

/// Inpainting against diffusers' StableDiffusionInpaintPipeline on the tiny pipeline
/// (tools/reference/pipeline_fixtures.py, CASES inpaint_*): prompt PROMPT, 10 steps,
/// guidance 7.5, `generator=torch.Generator("cpu").manual_seed(7)`, input.png + mask.png.
@Suite struct InpaintTests {
    static let ordinary = Result { try PipelineFixtures.pipeline(inpainting: false) }
    static let dedicated = Result { try PipelineFixtures.pipeline(inpainting: true) }

    static func options(strength: Double) -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 10, guidanceScale: 7.5, strength: strength, seed: 7)
    }

    func inputs() throws -> (Image, Mask) {
        (try PipelineFixtures.image("input.png"), Mask(try PipelineFixtures.image("mask.png")))
    }

    // inpaint_9ch: unet in_channels 9, strength 1.0 (pure noise start; image not encoded by prepare_latents)
    @Test func nineChannelUNetMatchesDiffusers() throws {
        let (image, mask) = try inputs()
        let output = try Self.dedicated.get().inpaint(image, mask: mask, options: Self.options(strength: 1),
                                                       pasteBack: false)
        let psnr = PipelineFixtures.psnr(output, try PipelineFixtures.image("inpaint_9ch.png"))
        print("inpaint 9ch PSNR \(psnr) dB")
        #expect(psnr >= 40)
    }

    // inpaint_4ch: unet in_channels 4 (latent blending), strength 0.75
    @Test func fourChannelUNetMatchesDiffusers() throws {
        let (image, mask) = try inputs()
        let output = try Self.ordinary.get().inpaint(image, mask: mask, options: Self.options(strength: 0.75),
                                                      pasteBack: false)
        let psnr = PipelineFixtures.psnr(output, try PipelineFixtures.image("inpaint_4ch.png"))
        print("inpaint 4ch PSNR \(psnr) dB")
        #expect(psnr >= 40)
    }

    @Test func pasteBackKeepsEveryUnmaskedPixel() throws {
        let (image, mask) = try inputs()
        let output = try Self.dedicated.get().inpaint(image, mask: mask, options: Self.options(strength: 1))
        var unmasked = 0, changedInside = 0
        for pixel in 0..<image.pixelCount {
            let samples = pixel * 3..<pixel * 3 + 3
            if mask.values[pixel] == 0 {
                unmasked += 1
                #expect(Array(output.samples[samples]) == Array(image.samples[samples]), "pixel \(pixel)")
            } else if Array(output.samples[samples]) != Array(image.samples[samples]) {
                changedInside += 1
            }
        }
        #expect(unmasked > 0 && changedInside > 0)
    }

    @Test func maskOfAnotherSizeIsRejected() throws {
        let (image, _) = try inputs()
        #expect(throws: PipelinesError.maskSizeMismatch(image: [64, 64], mask: [32, 64])) {
            try Self.dedicated.get().inpaint(image, mask: Mask(width: 32, height: 64, fill: 1),
                                             options: Self.options(strength: 1))
        }
    }
}
