import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights
#if canImport(Glibc)
import Glibc
#endif

/// Model files that are not regular files (a FIFO, a device, a dangling link, a link loop)
/// fail at once, naming the file, wherever a model is opened: a safetensors file, a folder's
/// JSON, an ncnn pair.
@Suite struct SpecialFileTests {
    /// What `body` throws, run on a thread of its own. If it has not returned within
    /// `seconds`, the test records a hang and opens each of `fifos` for writing, which
    /// releases a reader stuck opening it, so the suite goes on.
    static func promptError(unblocking fifos: [URL], seconds: Double = 5,
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: @escaping @Sendable () throws -> Void) -> WeightsError? {
        final class Box: @unchecked Sendable {
            var error: (any Error)?
            let done = DispatchSemaphore(value: 0)
        }
        let box = Box()
        Thread.detachNewThread {
            do { try body() } catch { box.error = error }
            box.done.signal()
        }
        if box.done.wait(timeout: .now() + seconds) == .timedOut {
            Issue.record("still blocked after \(seconds) s", sourceLocation: sourceLocation)
            for fifo in fifos {
                let descriptor = open(fifo.path, O_WRONLY | O_NONBLOCK)
                if descriptor >= 0 { close(descriptor) }
            }
            _ = box.done.wait(timeout: .now() + seconds)
        }
        guard let error = box.error as? WeightsError else {
            Issue.record("expected a WeightsError, got \(String(describing: box.error))", sourceLocation: sourceLocation)
            return nil
        }
        let lines = error.localizedDescription.split(whereSeparator: \.isNewline).count
        #expect(lines == 1, "\(error.localizedDescription)", sourceLocation: sourceLocation)
        return error
    }

    static func fifo(_ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try #require(mkfifo(url.path, 0o600) == 0)
        return url
    }

    @Test func fifoModelFileFailsAtOnce() throws {
        let folder = try makeScratchFolder()
        let url = try Self.fifo("model.safetensors", in: folder)
        let expected = WeightsError.notAFile(path: url.path, reason: "not a regular file (FIFO)")
        #expect(Self.promptError(unblocking: [url]) { _ = try SafeTensorsFile(url: url) } == expected)
        #expect(Self.promptError(unblocking: [url]) { _ = try ModelLocation.detect(url) } == expected)
        #expect(Self.promptError(unblocking: [url]) { _ = try WeightStore(url: url) } == expected)
        #expect(expected.localizedDescription == "\(url.path): not a regular file (FIFO)")
    }

    @Test func fifoConfigInAModelFolderFailsAtOnce() throws {
        let folder = try makeScratchFolder()
        let config = try Self.fifo("config.json", in: folder)
        #expect(Self.promptError(unblocking: [config]) { _ = try ModelLocation.detect(folder) }
                == .notAFile(path: config.path, reason: "not a regular file (FIFO)"))
        let pipeline = try makeScratchFolder()
        let index = try Self.fifo("model_index.json", in: pipeline)
        #expect(Self.promptError(unblocking: [index]) { _ = try ModelLocation.detect(pipeline) }
                == .notAFile(path: index.path, reason: "not a regular file (FIFO)"))
    }

    @Test func fifoNCNNFilesFailAtOnce() throws {
        let folder = try makeScratchFolder()
        let param = try Self.fifo("net.param", in: folder)
        let realBin = Fixtures.url("esrgan", "srvgg.bin")
        #expect(Self.promptError(unblocking: [param]) { _ = try NCNNModel(param: param, bin: realBin) }
                == .notAFile(path: param.path, reason: "not a regular file (FIFO)"))
        let bin = try Self.fifo("net.bin", in: folder)
        let realParam = Fixtures.url("esrgan", "srvgg.param")
        #expect(Self.promptError(unblocking: [bin]) { _ = try NCNNModel(param: realParam, bin: bin) }
                == .notAFile(path: bin.path, reason: "not a regular file (FIFO)"))
    }

    @Test func deviceDanglingLinkAndLoopAreRefused() throws {
        let folder = try makeScratchFolder()
        let device = folder.appendingPathComponent("null.safetensors")
        try FileManager.default.createSymbolicLink(atPath: device.path, withDestinationPath: "/dev/null")
        #expect(Self.promptError(unblocking: []) { _ = try ModelLocation.detect(device) }
                == .notAFile(path: device.path, reason: "not a regular file (character device)"))
        let dangling = folder.appendingPathComponent("gone.safetensors")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: "/nonexistent/x.safetensors")
        #expect(Self.promptError(unblocking: []) { _ = try ModelLocation.detect(dangling) }
                == .notAFile(path: dangling.path,
                             reason: "dangling symbolic link (to /nonexistent/x.safetensors, which does not exist)"))
        let loop = folder.appendingPathComponent("loop.param")
        try FileManager.default.createSymbolicLink(atPath: loop.path, withDestinationPath: loop.path)
        #expect(Self.promptError(unblocking: []) { _ = try NCNNModel(param: loop, bin: loop) }
                == .notAFile(path: loop.path, reason: "symbolic link loop"))
        let missing = folder.appendingPathComponent("absent.safetensors")
        #expect(Self.promptError(unblocking: []) { _ = try WeightStore(url: missing) } == .fileNotFound(path: missing.path))
    }

    @Test func linkToAModelFileIsFollowed() throws {
        let folder = try makeScratchFolder()
        let link = folder.appendingPathComponent("linked.safetensors")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: Fixtures.url("esrgan", "srvgg.safetensors").path)
        #expect(try WeightStore(url: link).keys == WeightStore(url: Fixtures.url("esrgan", "srvgg.safetensors")).keys)
    }
}
