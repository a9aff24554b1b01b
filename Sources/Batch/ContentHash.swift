import Crypto
import FileAccess
import Foundation

/// SHA-256 content hashes as lowercase hex (what `sha256sum` prints), by swift-crypto.
enum ContentHash {
    /// Files are hashed a chunk at a time, so a model of gigabytes is never held whole.
    private static let chunkSize = 4 << 20

    static func sha256(of data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// The hash of the regular file at `url` (symlinks followed); a FIFO, device or socket is
    /// refused at once rather than read.
    static func sha256(ofFileAt url: URL) throws -> String {
        let handle = FileHandle(fileDescriptor: try RegularFile.open(url.path), closeOnDealloc: true)
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
