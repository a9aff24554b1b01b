import Foundation

/// Content hashes of model files, remembered by path, size and modification time in
/// `$XDG_CACHE_HOME/overpaint/file-hashes.json` (else `~/.cache/overpaint/...`), so a run
/// hashes a model of gigabytes once, not on every resume. A file changed since has another
/// size or time and is hashed again.
final class FileHashCache {
    private struct Entry: Codable {
        var size: Int64
        var modified: Int64
        var sha256: String
    }

    private let url: URL?
    private var entries: [String: Entry] = [:]
    private var changed = false

    /// The cache file for `environment`; nil (remember nothing) without XDG_CACHE_HOME or HOME.
    static func location(environment: [String: String]) -> URL? {
        let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? environment["HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent(".cache") }
        return base?.appendingPathComponent("overpaint/file-hashes.json")
    }

    init(url: URL?) {
        self.url = url
        if let url, let data = try? Data(contentsOf: url),
           let saved = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries = saved
        }
    }

    /// The SHA-256 of the regular file at `path` (symlinks followed), from the cache when its
    /// size and modification time are as recorded.
    func sha256(ofFileAt path: String) throws -> String {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw BatchError.image("\(path): \(String(cString: strerror(errno)))")
        }
        let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        if let entry = entries[key], entry.size == Int64(status.st_size), entry.modified == modified {
            return entry.sha256
        }
        let digest = try ContentHash.sha256(ofFileAt: URL(fileURLWithPath: path))
        entries[key] = Entry(size: Int64(status.st_size), modified: modified, sha256: digest)
        changed = true
        return digest
    }

    /// Writes the cache back when it learnt something: to a temporary beside it, renamed into
    /// place, so concurrent runs never see half a file (the last writer's entries win).
    func save() {
        guard changed, let url else { return }
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid())")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(entries).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else { throw BatchError.unwritableOutput(path: url.path, reason: String(cString: strerror(errno))) }
            changed = false
        } catch {
            try? FileManager.default.removeItem(at: temporary)
        }
    }
}
