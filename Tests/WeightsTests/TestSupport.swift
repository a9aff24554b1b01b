import Foundation
import Testing
import Tensors
@testable import Weights

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
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-weights-\(UUID().uuidString)")
    atexit { try? FileManager.default.removeItem(at: scratchRoot) }
    return url
}()

/// A fresh empty folder, inside the process's scratch folder.
func temporaryFolder() throws -> URL {
    let url = scratchRoot.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `header` JSON (padded to 8 bytes) and `data` as a raw safetensors file.
func writeRawSafeTensors(header: String, data: [UInt8], to url: URL, declaredLength: UInt64? = nil) throws {
    var json = Array(header.utf8)
    json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
    var length = (declaredLength ?? UInt64(json.count)).littleEndian
    var bytes = withUnsafeBytes(of: &length) { Array($0) }
    bytes += json + data
    try Data(bytes).write(to: url)
}

/// Tensors of the given shapes filled with zeros (for header-only tests).
func zeros(_ shapes: [String: [Int]]) -> [String: Tensor] {
    shapes.mapValues { Tensor(zeros: $0) }
}
