import Foundation
import OverpaintTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Imaging

/// Paths that are not regular files fail at once with one line naming them. Each read runs
/// in a child process with a time limit, so a hang (a FIFO's open waits for a writer;
/// /dev/zero never ends) fails the test instead of blocking the suite.
@Suite struct CodecSpecialFileTests {
    static func expectRefusedAtOnce(_ url: URL, saying reason: String, in folder: URL,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        CodecBombTests.warmUp(folder)
        let outcome = CodecChildProcess.run(timeout: 10) { CodecChildProcess.readOutcome(url) }
        #expect(!outcome.timedOut, "\(url.lastPathComponent): the read hung", sourceLocation: sourceLocation)
        #expect(outcome.text == "cannot read \(url.path): \(reason)", sourceLocation: sourceLocation)
        #expect(outcome.seconds < 1, "\(url.lastPathComponent): took \(outcome.seconds) s", sourceLocation: sourceLocation)
    }

    @Test func fifoIsNotARegularFile() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.png")
        try #require(mkfifo(url.path, 0o600) == 0)
        Self.expectRefusedAtOnce(url, saying: "not a regular file (FIFO)", in: folder)
        let outcome = CodecChildProcess.run(timeout: 10) {
            (try? ImageFile.readTextChunks(url)) == nil ? "refused" : "read"
        }
        #expect(outcome.text == "refused")
    }

    /// A link named like a PNG to a device is not a regular file; a dangling one says where it points.
    @Test(arguments: [("x.png", "/dev/zero", "not a regular file (character device)"),
                      ("gone.png", "missing/photo.png", "dangling symbolic link (to missing/photo.png, which does not exist)")])
    func aLinkToADeviceOrToNothingIsRefused(_ name: String, _ destination: String, _ reason: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: destination)
        Self.expectRefusedAtOnce(url, saying: reason, in: folder)
    }

    @Test func socketIsNotARegularFile() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("s.png")
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in url.path.utf8.prefix(path.count - 1).enumerated() { path[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        Self.expectRefusedAtOnce(url, saying: "not a regular file (socket)", in: folder)
    }

    @Test func linkLoopIsRefused() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = folder.appendingPathComponent("a.png"), second = folder.appendingPathComponent("b.png")
        try FileManager.default.createSymbolicLink(atPath: first.path, withDestinationPath: second.path)
        try FileManager.default.createSymbolicLink(atPath: second.path, withDestinationPath: first.path)
        Self.expectRefusedAtOnce(first, saying: "symbolic link loop", in: folder)
    }

    @Test func folderAndMissingFileAreRefused() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(CodecBadInputTests.expectFailure(folder)?.localizedDescription == "cannot read \(folder.path): not a regular file (directory)")
        let missing = folder.appendingPathComponent("absent.png")
        #expect(CodecBadInputTests.expectFailure(missing)?.localizedDescription == "cannot read \(missing.path): no such file")
    }

    @Test func linkToARegularFileIsFollowed() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("linked.png")
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: CodecFixtures.url("png_rgb8.png").path)
        #expect(try ImageFile.read(url) == ImageFile.read(CodecFixtures.url("png_rgb8.png")))
    }
}
