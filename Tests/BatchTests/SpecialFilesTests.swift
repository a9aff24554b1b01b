import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch

/// Binds a Unix socket at `url` (left for the caller's folder removal) and returns its descriptor.
private func makeSocket(at url: URL) throws -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(url.path.utf8CString)
    try #require(path.count <= MemoryLayout.size(ofValue: address.sun_path))
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        path.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(bound == 0, "bind: \(String(cString: strerror(errno)))")
    return descriptor
}

/// Globs that match a dangling link, a link loop, a FIFO, a socket or a device: each is in
/// the plan with its reason (`--dry-run` prints it), and the run fails it in one line and goes
/// on; none is skipped in silence, none is opened (a FIFO would block). A FIFO as a mask
/// fails its image the same way.
@Test func specialFilesMatchedByGlobsAreReportedNotSkipped() throws {
    let folder = try makeScratchFolder("special")
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in")
    for stem in ["good", "fifo-mask"] {
        try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("\(stem).png"))
    }
    try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/good.png"))
    let files = FileManager.default
    try files.createSymbolicLink(atPath: input.appendingPathComponent("dangling.png").path, withDestinationPath: "gone.png")
    try files.createSymbolicLink(atPath: input.appendingPathComponent("loop.png").path, withDestinationPath: "loop.png")
    try files.createSymbolicLink(atPath: input.appendingPathComponent("device.png").path, withDestinationPath: "/dev/null")
    #expect(mkfifo(input.appendingPathComponent("fifo.png").path, 0o644) == 0)
    #expect(mkfifo(input.appendingPathComponent("masks/fifo-mask.png").path, 0o644) == 0)
    let socket = try makeSocket(at: input.appendingPathComponent("socket.png"))
    defer { close(socket) }
    let recipeURL = folder.appendingPathComponent("fill.yaml")
    try fillRecipe.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")

    let expected = [
        "dangling.png": "dangling.png: dangling symbolic link (to gone.png, which does not exist)",
        "device.png": "device.png: not a regular file (character device)",
        "fifo-mask.png": "fifo-mask.png: mask masks/fifo-mask.png: not a regular file (FIFO)",
        "fifo.png": "fifo.png: not a regular file (FIFO)",
        "loop.png": "loop.png: symbolic link loop",
        "socket.png": "socket.png: not a regular file (socket)",
    ]
    let plan = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--dry-run"])
    #expect(plan.status == 0, "\(plan.stderr)")
    #expect(plan.stdout.contains("7 images"), "\(plan.stdout)")
    for (name, reason) in expected {
        #expect(plan.stdout.contains("\(name) -> \(name)  PROBLEM: \(reason)"), "\(name): \(plan.stdout)")
    }

    let run = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stderr.contains("1 done, 6 failed"), "\(run.stderr)")
    for reason in expected.values {
        #expect(run.stderr.contains("FAILED \(reason)"), "\(reason): \(run.stderr)")
    }
    let entries = try manifestLines(output)
    #expect(Dictionary(uniqueKeysWithValues: entries.compactMap { entry in entry.error.map { (entry.input, $0) } }) == expected)
    #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("good.png").path))
}
