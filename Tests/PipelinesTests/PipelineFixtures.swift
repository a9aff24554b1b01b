import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Pipelines

/// Fixtures written by tools/reference/pipeline_fixtures.py.
enum PipelineFixtures {
    static let folder = Fixtures.root.appendingPathComponent("pipelines")
    static let prompt = "an astronaut in a garden, oil painting"

    static func image(_ name: String) throws -> Image {
        try ImageFile.read(folder.appendingPathComponent(name))
    }

    static func pipeline(inpainting: Bool) throws -> StableDiffusion {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try StableDiffusion(folder: tinyPipelineFolder(in: scratch, unet: inpainting ? "unet-inpaint" : nil))
    }
}

/// A reference case read from a `{"cases": {name: {...}}}` fixture file, named by its key.
protocol NamedReferenceCase: Decodable {
    var name: String { get set }
}

extension PipelineFixtures {
    /// The cases of `file`, each named by its key, in name order; none if the file is unreadable
    /// (the tests over them then fail for want of cases).
    static func namedCases<Case: NamedReferenceCase>(_ file: String) -> [Case] {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)),
              let decoded = try? JSONDecoder().decode(CaseFile<Case>.self, from: data) else { return [] }
        return named(decoded.cases)
    }

    private struct CaseFile<Case: Decodable>: Decodable { let cases: [String: Case] }

    static func named<Case: NamedReferenceCase>(_ cases: [String: Case]) -> [Case] {
        cases.map { name, value in
            var named = value
            named.name = name
            return named
        }.sorted { $0.name < $1.name }
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
