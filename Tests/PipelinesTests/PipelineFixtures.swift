import Foundation
import Imaging
@testable import Pipelines

/// Fixtures written by tools/reference/pipeline_fixtures.py.
enum PipelineFixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Tests/Fixtures")
    }()

    static let folder = root.appendingPathComponent("pipelines")
    static let prompt = "an astronaut in a garden, oil painting"

    static func image(_ name: String) throws -> Image {
        try ImageFile.read(folder.appendingPathComponent(name))
    }

    /// A temporary pipeline folder: `sd-tiny` plus the real CLIP tokenizer files (stored once,
    /// in clip-tokenizer/), with `unet-inpaint` as its UNet when `inpainting`.
    static func pipelineFolder(inpainting: Bool) throws -> URL {
        let manager = FileManager.default
        let target = manager.temporaryDirectory
            .appendingPathComponent("overpaint-pipelines-\(UUID().uuidString)")
        try manager.copyItem(at: folder.appendingPathComponent("sd-tiny"), to: target)
        try manager.copyItem(at: root.appendingPathComponent("clip-tokenizer"),
                             to: target.appendingPathComponent("tokenizer"))
        if inpainting {
            try manager.removeItem(at: target.appendingPathComponent("unet"))
            try manager.copyItem(at: folder.appendingPathComponent("unet-inpaint"),
                                 to: target.appendingPathComponent("unet"))
        }
        return target
    }

    static func pipeline(inpainting: Bool) throws -> StableDiffusion {
        let url = try pipelineFolder(inpainting: inpainting)
        defer { try? FileManager.default.removeItem(at: url) }
        return try StableDiffusion(folder: url)
    }

    /// PSNR in dB over all samples of two equally sized 8-bit images (infinity when identical).
    static func psnr(_ a: Image, _ b: Image) -> Double {
        precondition(a.samples.count == b.samples.count)
        return ImageFidelity.psnr(a, b, eightBit: true)
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
