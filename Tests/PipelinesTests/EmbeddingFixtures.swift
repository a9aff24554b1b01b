import Adapters
import Foundation
import OverpaintTestSupport
import Testing

/// A folder of textual-inversion fixtures as the reference scripts write them: embedding files
/// named by their stems, each case's expected encodings, and `cases.json` with the prompts.
struct EmbeddingFixtures {
    let folder: URL
    let stems: [String]

    init(_ name: String, stems: [String]) {
        folder = Fixtures.root.appendingPathComponent(name)
        self.stems = stems
    }

    func url(_ file: String) -> URL { folder.appendingPathComponent(file) }

    /// Every embedding file, in `stems` order.
    func embeddings() throws -> [TextualInversion] {
        try stems.map { try TextualInversion(url: url("\($0).safetensors")) }
    }

    /// The prompt and negative prompt of case `name`.
    func prompts(of name: String) throws -> [String: String] {
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url("cases.json"))) as? [String: Any])
        return try #require(cases[name] as? [String: String])
    }
}
