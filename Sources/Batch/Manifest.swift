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
    /// Everything that decided the output (`Fingerprint`); `--resume` keeps an output only
    /// when this run's is the same.
    public var fingerprint: [String: String]?
    public var finished: String
    public var version: String
    /// The products' arithmetic and backends, and OpenBLAS's core (`GEMMBackend.productsDescription`).
    public var precision: String? = nil
    /// The A1111 `parameters` text written into the output (prompt, seed, sampler, model...), for the report.
    public var parameters: String? = nil
    /// When the run that wrote this entry started (ISO 8601), so the report tells earlier runs' rows apart;
    /// nil in manifests older Overpaints wrote.
    public var run: String? = nil
    /// The shard (`I/N`) of the run that wrote this entry, nil for a run of the whole folder
    /// (and in manifests older Overpaints wrote).
    public var shard: String? = nil

    /// N of `shard`: how many shards the folder was split into when this entry was written.
    var shardCount: Int? { shard?.split(separator: "/").last.flatMap { Int($0) } }
}

/// What `manifest.jsonl` holds: its records in file order, and the lines that are none.
struct ManifestContents {
    var entries: [ManifestEntry] = []
    /// 1-based numbers of lines that do not parse as a record (a line torn by a killed
    /// run, or edited by hand); blank lines are not counted.
    var unparseableLines: [Int] = []
}

extension ManifestContents {
    /// Refuses `shard` when the outputs as they stand (each one's latest record) were made by
    /// shards of another count: its slices would cut across theirs.
    func refuseOtherShardCount(than shard: Shard, folder: URL) throws(BatchError) {
        var latest: [String: ManifestEntry] = [:]
        for entry in entries { latest[entry.output] = entry }
        let others = Set(latest.values.compactMap(\.shardCount)).subtracting([shard.count])
        guard let inUse = others.min() else { return }
        throw .otherShardCount("\(folder.path): shard \(shard) cannot start: \(Manifest.fileName) records outputs made by shards of \(inUse) (--shard I/\(inUse)); go on with --shard I/\(inUse), or without --shard for the whole folder (--resume keeps finished outputs), or use another --output")
    }
}

/// The append-only manifest of an output folder. Each entry is one `write(2)` of one line
/// with O_APPEND, so lines from concurrent shards never interleave on a local disk. The file
/// is opened with O_NOFOLLOW inside the output folder (resolved once, when the run starts), so
/// a symlink put in its place cannot send records elsewhere.
struct Manifest {
    static let fileName = "manifest.jsonl"
    let url: URL

    init(folder: OutputFolder) {
        url = folder.resolvedRoot.appendingPathComponent(Self.fileName)
    }

    /// Refuses a manifest that is not a regular file (a symlink, a FIFO) before anything runs.
    func checkWritable() throws(BatchError) {
        var status = stat()
        guard lstat(url.path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .unwritableOutput(path: url.path, reason: Self.notRegular(status))
        }
    }

    /// Appends `entry` as one line. A file whose last line was torn (no final newline) gets
    /// one first, in the same write, so the new record never runs onto the broken one.
    func append(_ entry: ManifestEntry) throws {
        let descriptor = try openManifest(flags: O_RDWR | O_APPEND | O_CREAT)
        defer { close(descriptor) }
        var line = Data()
        if !endsWithNewline(descriptor) { line.append(0x0A) }
        line += try Self.encoder.encode(entry)
        line.append(0x0A)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw BatchError.unwritableOutput(path: url.path, reason: "short write to manifest")
        }
        fsync(descriptor)
    }

    /// Every record, and which lines are not records; a missing manifest is an empty one.
    func read() -> ManifestContents {
        guard let descriptor = try? openManifest(flags: O_RDONLY) else { return ManifestContents() }
        let data = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).readDataToEndOfFile()
        var contents = ManifestContents()
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
            if let entry = try? JSONDecoder().decode(ManifestEntry.self, from: line) {
                contents.entries.append(entry)
            } else {
                contents.unparseableLines.append(index + 1)
            }
        }
        return contents
    }

    /// The latest entry for each output, among those `including` accepts.
    func latestEntries(including: (ManifestEntry) -> Bool = { _ in true }) -> [String: ManifestEntry] {
        var latest: [String: ManifestEntry] = [:]
        for entry in read().entries where including(entry) { latest[entry.output] = entry }
        return latest
    }

    /// The one line a run prints about lines it ignores, or nil when there are none.
    static func unparseableNote(_ lines: [Int]) -> String? {
        guard !lines.isEmpty else { return nil }
        let shown = lines.prefix(5).map(String.init).joined(separator: ", ") + (lines.count > 5 ? ", ..." : "")
        return "\(fileName): ignoring \(lines.count) line\(lines.count == 1 ? "" : "s") that \(lines.count == 1 ? "is" : "are") not a record (line \(shown): torn by a killed run or edited)"
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The manifest opened without following a symlink and without blocking on a FIFO; only
    /// a regular file is accepted.
    private func openManifest(flags: Int32) throws(BatchError) -> Int32 {
        let descriptor = open(url.path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let reason = errno == ELOOP ? "is a symbolic link; records are written only to a regular file inside --output"
                : String(cString: strerror(errno))
            throw .unwritableOutput(path: url.path, reason: reason)
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .unwritableOutput(path: url.path, reason: Self.notRegular(status))
        }
        return descriptor
    }

    private func endsWithNewline(_ descriptor: Int32) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else { return true }
        var last: UInt8 = 0
        return pread(descriptor, &last, 1, status.st_size - 1) == 1 && last == 0x0A
    }

    private static func notRegular(_ status: stat) -> String {
        status.st_mode & S_IFMT == S_IFLNK
            ? "is a symbolic link; records are written only to a regular file inside --output"
            : "is not a regular file"
    }
}
