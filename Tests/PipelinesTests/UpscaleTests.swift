import Foundation
import Imaging
import OverpaintTestSupport
import Schedulers
import Testing
@testable import Pipelines

/// Fixtures written by tools/reference/x4_upscaler_fixtures.py.
enum UpscalerFixtures {
    static let folder = Fixtures.root.appendingPathComponent("upscaler")
    static let prompt = "a white cat"

    static func image(_ name: String) throws -> Image { try Fixtures.image("upscaler", name) }

    /// x4_upscaler_fixtures.py's CASES.
    static let cases: [UpscaleCase] = Fixtures.namedCases("upscaler", "cases.json")

    static let pipeline = Result { () throws -> StableDiffusionUpscale in
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusionUpscale(folder: tinyUpscalerFolder(in: scratch))
    }
}

/// One case of x4_upscaler_fixtures.py's CASES, as cases.json holds it.
typealias UpscaleCase = PipelineReferenceCase<UpscaleCaseKeys>

/// x4_upscaler_fixtures.py's own keys: the noise level, and the input where it is not input.png.
struct UpscaleCaseKeys: Decodable, Sendable {
    let noiseLevel: Int
    let input: String?

    private enum CodingKeys: String, CodingKey {
        case input
        case noiseLevel = "noise_level"
    }
}

extension PipelineReferenceCase<UpscaleCaseKeys> {
    var options: UpscaleOptions {
        UpscaleOptions(prompt: UpscalerFixtures.prompt, negativePrompt: sampling.negative ?? "", steps: sampling.steps,
                       guidanceScale: sampling.guidance, noiseLevel: keys.noiseLevel, seed: sampling.seed,
                       scheduler: sampling.scheduler, eta: sampling.eta ?? 0)
    }
}

/// Every case against diffusers' StableDiffusionUpscalePipeline output PNG (PROMPT, the case's
/// parameters, `generator=torch.Generator("cpu").manual_seed(seed)`, `max_noise_level=350`).
@Suite struct UpscaleParityTests {
    @Test func everyReferenceCaseIsListed() {
        #expect(UpscalerFixtures.cases.count == 8)
    }

    @Test func loadsTheUpscalerFolder() throws {
        let pipeline = try UpscalerFixtures.pipeline.get()
        #expect(pipeline.scale == 4)
        #expect(pipeline.maxNoiseLevel == 350)
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(StableDiffusionUpscale.isUpscalerFolder(try tinyUpscalerFolder(in: scratch)))
        #expect(!StableDiffusionUpscale.isUpscalerFolder(PipelineFixtures.folder.appendingPathComponent("sd-tiny")))
    }

    @Test(arguments: UpscalerFixtures.cases)
    func matchesDiffusers(_ reference: UpscaleCase) throws {
        let image = try UpscalerFixtures.image(reference.input ?? "input.png")
        let output = try UpscalerFixtures.pipeline.get().upscale(image, options: reference.options)
        let expected = try UpscalerFixtures.image("\(reference.name).png")
        expectMatchesReference(output, expected, reference.name)
    }

    @Test func refusesANoiseLevelAboveTheMaximum() throws {
        var options = UpscaleOptions(prompt: "x", steps: 1)
        options.noiseLevel = 351
        #expect(throws: PipelinesError.invalidNoiseLevel(level: 351, maximum: 350)) {
            try UpscalerFixtures.pipeline.get().upscale(try UpscalerFixtures.image("input.png"), options: options)
        }
    }
}
