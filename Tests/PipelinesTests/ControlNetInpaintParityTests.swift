import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// StableDiffusionControlNetInpaintPipeline on the tiny pipeline (tools/reference/
/// controlnet_pipeline_fixtures.py, INPAINT_CASES): mask.png, the Canny map of input.png at
/// scale 0.8, PNDM, the tiny ControlNet; `4ch` on sd-tiny's UNet (strength 0.75, latent
/// blending), `9ch` on unet-inpaint (strength 1). Measured here: 4ch 86.0 dB, 9ch identical
/// (PSNR infinite); without the ControlNet 19.6 and 26.3 dB from diffusers'.
@Suite struct ControlNetInpaintParityTests {
    static let cases: [String: ControlNetReferenceCase] =
        (try? Fixtures.cases("pipelines", "controlnet_inpaint_cases.json")) ?? [:]
    static let controlNet = Result {
        try ControlNetModel(folder: PipelineFixtures.folder.appendingPathComponent("controlnet_tiny"))
    }

    @Test(arguments: ["controlnet_inpaint_4ch", "controlnet_inpaint_9ch"])
    func matchesDiffusers(_ name: String) throws {
        let reference = try #require(Self.cases[name])
        let pipeline = try PipelineFixtures.pipeline(inpainting: reference.unet == "unet-inpaint")
        let image = try PipelineFixtures.image("input.png")
        let mask = Mask(try PipelineFixtures.image("mask.png"))
        let control = ControlInput(model: try Self.controlNet.get(),
                                   condition: try Canny.edges(of: image, low: 100, high: 200), scale: try #require(reference.scale))
        let options = reference.options(prompt: PipelineFixtures.prompt)
        let ours = try pipeline.inpaint(image, mask: mask, options: options, controls: [control], pasteBack: false)
        let expected = try PipelineFixtures.image("\(name).png")
        let psnr = ImageFidelity.psnr(ours, expected, eightBit: true)
        #expect(psnr >= 40, "\(name): \(psnr) dB")
        // the control matters: without it the result is farther from diffusers'
        let uncontrolled = try pipeline.inpaint(image, mask: mask, options: options, pasteBack: false)
        #expect(ImageFidelity.psnr(uncontrolled, expected, eightBit: true) < psnr - 5, "\(name)")
    }
}
