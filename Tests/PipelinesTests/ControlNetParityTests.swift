import Foundation
import Imaging
import Models
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// One case of tools/reference/controlnet_pipeline_fixtures.py's CASES, as controlnet_cases.json holds it.
typealias ControlNetReferenceCase = PipelineReferenceCase<ControlNetCaseKeys>

/// controlnet_pipeline_fixtures.py's own keys: CASES' ControlNets, INPAINT_CASES' UNet and
/// Canny ControlNet scale.
struct ControlNetCaseKeys: Decodable, Sendable {
    struct Control: Decodable, Sendable {
        /// "canny" (the Canny map of input.png) or "input" (input.png itself).
        let condition: String
        let scale: Float
        let start: Double
        let end: Double
    }

    let controls: [Control]?
    let unet: String?
    let scale: Float?
}

/// StableDiffusionControlNetImg2ImgPipeline on the tiny pipeline with the tiny ControlNet
/// (controlnet_tiny/), PROMPT, PNDM, and each case's controls, against diffusers' PNGs.
/// Measured here: controlnet_canny and controlnet_multi identical to diffusers (PSNR infinite),
/// controlnet_canny_end_half 89.0 dB (one sample one level off); without the ControlNet the first is 26.7 dB from diffusers', and
/// the cases differ from each other by 35.6 dB (end 0.5) and 40.6 dB (multi), so the level check
/// is what tells them apart.
@Suite struct ControlNetParityTests {
    static let pipeline = Result { try PipelineFixtures.pipeline(inpainting: false) }
    static let controlNet = Result {
        try ControlNetModel(folder: PipelineFixtures.folder.appendingPathComponent("controlnet_tiny"))
    }
    static let cases: [ControlNetReferenceCase] = Fixtures.namedCases("pipelines", "controlnet_cases.json")

    static func condition(_ name: String) throws -> Image {
        let input = try PipelineFixtures.image("input.png")
        return name == "canny" ? try Canny.edges(of: input, low: 100, high: 200) : input
    }

    @Test func everyReferenceCaseIsListed() {
        #expect(Self.cases.map(\.name)
            == ["controlnet_canny", "controlnet_canny_end_half", "controlnet_multi"])
    }

    /// The control map the reference used: cv2.Canny(np.asarray(input RGB), 100, 200).
    @Test func cannyMapMatchesTheReference() throws {
        let edges = try Self.condition("canny")
        let expected = try PipelineFixtures.image("controlnet_canny_map.png")
        #expect(edges.samples == expected.samples)
        #expect(edges.samples.contains(1))
    }

    @Test(arguments: ControlNetParityTests.cases)
    func matchesDiffusers(_ reference: ControlNetReferenceCase) throws {
        let model = try Self.controlNet.get()
        let controls = try #require(reference.controls).map {
            ControlInput(model: model, condition: try Self.condition($0.condition), scale: $0.scale,
                         start: $0.start, end: $0.end)
        }
        let output = try Self.pipeline.get().imageToImage(try PipelineFixtures.image("input.png"), controls: controls,
                                                          options: reference.options(prompt: PipelineFixtures.prompt))
        let expected = try PipelineFixtures.image("\(reference.name).png")
        expectMatchesReference(output, expected, reference.name)
    }

    /// Without controls the pipeline is img2img: diffusers' img2img_pndm output (same seed,
    /// strength, steps and guidance).
    @Test func noControlsIsImageToImage() throws {
        let options = GenerationOptions(prompt: PipelineFixtures.prompt, steps: 10, guidanceScale: 7.5,
                                        strength: 0.75, seed: 42)
        let output = try Self.pipeline.get().imageToImage(try PipelineFixtures.image("input.png"),
                                                          controls: [], options: options)
        let psnr = ImageFidelity.psnr(output, try PipelineFixtures.image("img2img_pndm.png"), eightBit: true)
        #expect(psnr >= 40, "PSNR \(psnr) dB")
    }

    /// controlnet_keep for 7 steps (10 at strength 0.75) and window 0...0.5, in Python:
    /// [1.0 - float(i / 7 < 0 or (i + 1) / 7 > 0.5) for i in range(7)] == [1, 1, 1, 0, 0, 0, 0]
    @Test func guidanceWindowKeepsTheFirstSteps() throws {
        let control = ControlInput(model: try Self.controlNet.get(), condition: try Self.condition("canny"),
                                   scale: 0.8, start: 0, end: 0.5)
        #expect((0..<7).map { control.effectiveScale(step: $0, of: 7) } == [0.8, 0.8, 0.8, 0, 0, 0, 0])
        // [1.0 - float(i / 10 < 0.2 or (i + 1) / 10 > 0.7) for i in range(10)] == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]
        let late = ControlInput(model: control.model, condition: control.condition, scale: 0.5, start: 0.2, end: 0.7)
        #expect((0..<10).map { late.effectiveScale(step: $0, of: 10) } == [0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0])
    }

    @Test(arguments: [(0.5, 0.5), (-0.1, 1.0), (0.0, 1.2)])
    func rejectsAnInvalidWindow(_ window: (Double, Double)) throws {
        let control = ControlInput(model: try Self.controlNet.get(), condition: try Self.condition("canny"),
                                   start: window.0, end: window.1)
        let options = GenerationOptions(prompt: PipelineFixtures.prompt, steps: 2, strength: 0.5)
        #expect(throws: PipelinesError.invalidControlWindow(control: 0, start: window.0, end: window.1)) {
            try Self.pipeline.get().imageToImage(try PipelineFixtures.image("input.png"),
                                                    controls: [control], options: options)
        }
    }

    /// The Models fixture's ControlNet (Tests/Fixtures/controlnet, from a UNet with block channels
    /// [8, 16]) cannot feed sd-tiny's UNet ([16, 32]): a typed error, not a precondition failure.
    @Test func rejectsAControlNetOfAnotherUNet() throws {
        let other = try ControlNetModel(folder: Fixtures.root.appendingPathComponent("controlnet"))
        let control = ControlInput(model: other, condition: try Self.condition("canny"))
        let options = GenerationOptions(prompt: PipelineFixtures.prompt, steps: 2, strength: 0.5)
        #expect(throws: PipelinesError.incompatibleControlNet(
            control: 0, reason: "block channels [8, 16], the UNet [16, 32]")) {
            try Self.pipeline.get().imageToImage(try PipelineFixtures.image("input.png"),
                                                    controls: [control], options: options)
        }
    }

    /// The gray control map is used as RGB, left in 0...1, and resized to the working size.
    @Test func conditionTensorIsRGBInUnitRange() throws {
        let control = ControlInput(model: try Self.controlNet.get(), condition: try Self.condition("canny"))
        let tensor = control.conditionTensor(width: 64, height: 64)
        #expect(tensor.shape == [1, 3, 64, 64])
        let planes = tensor.chunked(3, axis: 1)
        #expect(planes[0].scalars == planes[2].scalars && planes[0].scalars == control.condition.samples)
        let resized = control.conditionTensor(width: 32, height: 48)
        #expect(resized.shape == [1, 3, 48, 32])
        #expect(resized.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
