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

    static func image(_ name: String) throws -> Image {
        try ImageFile.read(folder.appendingPathComponent(name))
    }

    static let pipeline = Result { () throws -> StableDiffusionUpscale in
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusionUpscale(folder: tinyUpscalerFolder(in: scratch))
    }
}

/// One case of x4_upscaler_fixtures.py's CASES, as cases.json holds it.
struct UpscaleCase: NamedReferenceCase, Sendable, CustomTestStringConvertible {
    var name = ""
    let steps: Int
    let guidance: Float
    let noiseLevel: Int
    let seed: UInt64
    let negative: String?
    let scheduler: SchedulerName?
    let eta: Float?
    let input: String?

    var testDescription: String { name }

    private enum CodingKeys: String, CodingKey {
        case steps, guidance, seed, negative, scheduler, eta, input
        case noiseLevel = "noise_level"
    }

    var options: UpscaleOptions {
        UpscaleOptions(prompt: UpscalerFixtures.prompt, negativePrompt: negative ?? "", steps: steps,
                       guidanceScale: guidance, noiseLevel: noiseLevel, seed: seed, scheduler: scheduler,
                       eta: eta ?? 0)
    }

    static let all: [UpscaleCase] = {
        guard let data = try? Data(contentsOf: UpscalerFixtures.folder.appendingPathComponent("cases.json")),
              let file = try? JSONDecoder().decode(CaseFile.self, from: data) else { return [] }
        return PipelineFixtures.named(file.cases)
    }()

    private struct CaseFile: Decodable { let cases: [String: UpscaleCase] }
}

/// Every case against diffusers' StableDiffusionUpscalePipeline output PNG (PROMPT, the case's
/// parameters, `generator=torch.Generator("cpu").manual_seed(seed)`, `max_noise_level=350`).
@Suite struct UpscaleParityTests {
    @Test func everyReferenceCaseIsListed() {
        #expect(UpscaleCase.all.count == 8)
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

    @Test(arguments: UpscaleCase.all)
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
