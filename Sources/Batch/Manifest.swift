import Foundation

/// One line of `manifest.jsonl`: what happened to one image, and how its output was made.
public struct ManifestEntry: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case ok, failed }

    public var input: String
    public var output: String
    public var mask: String?
    public var status: Status
    public var error: String?
    public var edits: [String]
    public var seed: UInt64
    public var recipe: String
    public var model: String?
    public var seconds: Double
    /// SHA-256 of the output file as written; `--resume` trusts an output only if it matches.
    public var sha256: String?
    public var finished: String
    public var version: String
    /// The products' arithmetic and backends, and OpenBLAS's core (`GEMMBackend.productsDescription`).
    public var precision: String? = nil
}

/// The append-only manifest of an output folder. Each entry is one `write(2)` of one line
/// with O_APPEND, so lines from concurrent shards never interleave on a local disk.
struct Manifest {
    static let fileName = "manifest.jsonl"
    let url: URL

    init(outputRoot: URL) {
        url = outputRoot.appendingPathComponent(Self.fileName)
    }

    func append(_ entry: ManifestEntry) throws {
        var line = try Self.encoder.encode(entry)
        line.append(0x0A)
        let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BatchError.unwritableOutput(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw BatchError.unwritableOutput(path: url.path, reason: "short write to manifest")
        }
        fsync(descriptor)
    }

    /// The latest entry for each output, among those `including` accepts. A torn last line
    /// (the process was killed while writing it) is ignored, not fatal.
    func latestEntries(including: (ManifestEntry) -> Bool = { _ in true }) -> [String: ManifestEntry] {
        guard let data = try? Data(contentsOf: url) else { return [:] }
        var latest: [String: ManifestEntry] = [:]
        for line in data.split(separator: 0x0A) {
            if let entry = try? JSONDecoder().decode(ManifestEntry.self, from: line), including(entry) {
                latest[entry.output] = entry
            }
        }
        return latest
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
