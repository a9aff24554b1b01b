import Foundation
import Imaging
import OverpaintTestSupport
@testable import Pipelines

/// Fixtures written by tools/reference/pipeline_fixtures.py.
enum PipelineFixtures {
    static let root = Fixtures.root

    static let folder = root.appendingPathComponent("pipelines")
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
