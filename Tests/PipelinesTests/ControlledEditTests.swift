import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// `edit` with a ControlNet: the inversion as before, then StableDiffusionControlNetPipeline
/// from the inverted latents (tools/reference/inversion_fixtures.py, CONTROL_CASE).
/// Measured here: 82.0 dB from diffusers'; diffusers' controlled and
/// uncontrolled edits are 17.3 dB apart.
@Suite struct ControlledEditTests {
    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }
    static let file = Result {
        try Fixtures.decoded(InversionCaseFile<InversionCase>.self, "pipelines", "inversion_control_cases.json")
    }

    func control(scale: Float, start: Double = 0, end: Double = 1) throws -> ControlInput {
        let model = try ControlNetModel(folder: PipelineFixtures.folder.appendingPathComponent("controlnet_tiny"))
        let edges = try Canny.edges(of: try PipelineFixtures.image("input.png"), low: 100, high: 200)
        return ControlInput(model: model, condition: edges, scale: scale, start: start, end: end)
    }

    @Test func matchesDiffusersAndDiffersFromTheUncontrolledEdit() throws {
        let file = try Self.file.get()
        let reference = try #require(file.cases["edit_canny"])
        let options = reference.options(prompt: reference.prompt)
        let scale = try #require(reference.scale)
        let image = try PipelineFixtures.image("input.png")
        let pipeline = try Self.pipeline.get()
        let ours = try pipeline.invertAndEdit(image, sourcePrompt: file.sourcePrompt, options: options,
                                              controls: [try control(scale: scale)])
        let expected = try PipelineFixtures.image("inversion_edit_canny.png")
        #expect(ImageFidelity.psnr(ours, expected, eightBit: true) >= 40)
        let uncontrolled = try pipeline.invertAndEdit(image, sourcePrompt: file.sourcePrompt, options: options)
        #expect(ImageFidelity.psnr(uncontrolled, expected, eightBit: true) < 30)
        // img2img-control semantics: a control whose window holds no step adds nothing (to the
        // float noise of threaded sums, which can move a sample by a level)
        let idle = try pipeline.invertAndEdit(image, sourcePrompt: file.sourcePrompt, options: options,
                                              controls: [try control(scale: scale, start: 0.95, end: 1)])
        #expect(ImageFidelity.psnr(idle, uncontrolled, eightBit: true) >= 50)
    }
}
