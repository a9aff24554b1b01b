import Foundation
import Testing
import Tensors
import Weights

/// Tests/Fixtures/<area>/<name>, found from this file's path.
func fixtureURL(_ area: String, _ name: String) -> URL {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("Tests/Fixtures/\(area)/\(name)")
}

func fixtureJSON(_ area: String, _ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: fixtureURL(area, name))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// One folder for every scratch file of this test process, removed when the process exits.
private let scratchRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-adapters-\(UUID().uuidString)")
    atexit { try? FileManager.default.removeItem(at: scratchRoot) }
    return url
}()

/// A fresh empty folder, inside the process's scratch folder.
func temporaryFolder() throws -> URL {
    let url = scratchRoot.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Another source's tensors, all widened to f32 (so a fused weight is kept exact, not rounded).
struct FloatOnlySource: ParameterSource {
    let base: any ParameterSource
    var path: String { base.path }
    var keys: [String] { base.keys }
    func shape(of name: String) throws -> [Int] { try base.shape(of: name) }
    func tensor(named name: String) throws -> Tensor { try base.tensor(named: name) }
}
