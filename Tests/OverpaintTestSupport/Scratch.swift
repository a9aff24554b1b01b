import Foundation

/// One folder for every scratch folder of this test process, removed when the process exits,
/// so a test that fails before its own clean-up leaves nothing behind.
private let scratchRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
    atexit { try? FileManager.default.removeItem(at: scratchRoot) }
    return url
}()

/// A fresh empty folder inside the process's scratch folder, named after the calling test so
/// that a folder kept for inspection says where it came from.
public func makeScratchFolder(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = scratchRoot.appendingPathComponent("\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
