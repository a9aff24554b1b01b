import Foundation

/// The fuzz input as a file, for readers that take a path: one file in /dev/shm (memory,
/// not disk) rewritten for each input, and removed when the process exits.
enum ScratchFile {
    static let url: URL = {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: folder).appendingPathComponent("overpaint-fuzz-\(getpid())")
        atexit { unlink(ScratchFile.url.path) }
        return url
    }()

    static let descriptor: Int32 = open(url.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)

    static func write(_ bytes: UnsafeBufferPointer<UInt8>) -> URL {
        precondition(descriptor >= 0, "cannot create \(url.path)")
        precondition(ftruncate(descriptor, 0) == 0 && pwrite(descriptor, bytes.baseAddress, bytes.count, 0) == bytes.count)
        return url
    }
}
