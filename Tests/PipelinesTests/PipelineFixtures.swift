import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// Fixtures written by tools/reference/pipeline_fixtures.py.
enum PipelineFixtures {
    static let folder = Fixtures.root.appendingPathComponent("pipelines")
    static let prompt = "an astronaut in a garden, oil painting"
    /// pipeline_fixtures.py's CASES.
    static let cases: [ReferenceCase] = Fixtures.namedCases("pipelines", "cases.json")

    static func image(_ name: String) throws -> Image { try Fixtures.image("pipelines", name) }

    static func pipeline(inpainting: Bool) throws -> StableDiffusion {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusion(folder: tinyPipelineFolder(in: scratch, unet: inpainting ? "unet-inpaint" : nil))
    }
}

/// Expects `output` to be diffusers' `expected` up to float summation order: the same size,
/// no NaN, PSNR at least 40 dB, and no sample more than 2.5 levels off. The last is stricter
/// than PSNR: a wrong start or blend shifts a region by several levels while the PSNR stays
/// near 48 dB; summation order moves single samples by one level.
func expectMatchesReference(_ output: Image, _ expected: Image, _ name: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(output.width == expected.width && output.height == expected.height && output.channels == 3,
            "\(name): \(output.width)x\(output.height)x\(output.channels)", sourceLocation: sourceLocation)
    #expect(!output.samples.contains { $0.isNaN }, "\(name): NaN", sourceLocation: sourceLocation)
    let psnr = ImageFidelity.psnr(output, expected, eightBit: true)
    print("\(name): PSNR \(psnr) dB against diffusers")
    #expect(psnr >= 40, "\(name): PSNR \(psnr) dB", sourceLocation: sourceLocation)
    let levels = zip(output.samples, expected.samples).map { abs($0 - $1) * 255 }.max() ?? 0
    #expect(levels <= 2.5, "\(name): a sample differs by \(levels) levels", sourceLocation: sourceLocation)
}
