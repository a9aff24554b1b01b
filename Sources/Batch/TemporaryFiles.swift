import Foundation

/// The temporary files of one run of one shard. Each is listed in the shard's journal,
/// `.overpaint-temps` (`.overpaint-temps-IofN`) inside `--output`, before it is created, and
/// has a short name of its own (`.overpaint-tmp-IofN-17`) whatever the name of the output it
/// becomes, so outputs may use the file system's whole 255 bytes. The next run of the same
/// shard, holding the shard's lock, removes exactly the listed files that a killed run left:
/// never a file of another live run, never a file it did not make.
final class TemporaryFiles: @unchecked Sendable {
    // @unchecked: `count` is touched only under `lock`; the journal is appended with O_APPEND.
    static let marker = ".overpaint-tmp-"
    let journal: URL
    private let root: URL
    private let tag: String
    private let lock = NSLock()
    private var count = 0

    static func journalName(for shard: Shard?) -> String { ".overpaint-temps" + ShardLock.suffix(for: shard) }

    init(root: URL, shard: Shard?) {
        self.root = root
        journal = root.appendingPathComponent(Self.journalName(for: shard))
        tag = shard.map { "\($0.index)of\($0.count)-" } ?? ""
    }

    /// A fresh temporary path in `folder` (a folder under the root), recorded before it exists.
    func make(in folder: URL) throws -> URL {
        let number = lock.withLock {
            count += 1
            return count
        }
        let url = folder.appendingPathComponent("\(Self.marker)\(tag)\(number)")
        try append(String(url.path.dropFirst(root.path.count + 1)) + "\n")
        return url
    }

    /// Removes every listed temporary that is still there, then empties the journal.
    func removeAll() {
        let descriptor = open(journal.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        let listed = String(decoding: FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).readDataToEndOfFile(),
                            as: UTF8.self)
        for relative in listed.split(separator: "\n") {
            let url = root.appendingPathComponent(String(relative))
            let folder = url.deletingLastPathComponent().resolvingSymlinksInPath().path
            var status = stat()
            guard url.lastPathComponent.hasPrefix(Self.marker), folder == root.path || folder.hasPrefix(root.path + "/"),
                  lstat(url.path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            unlink(url.path)
        }
        let emptied = open(journal.path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
        if emptied >= 0 { close(emptied) }
    }

    private func append(_ line: String) throws {
        let descriptor = open(journal.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw BatchError.unwritableOutput(path: journal.path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let bytes = Data(line.utf8)
        guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BatchError.unwritableOutput(path: journal.path, reason: "short write")
        }
    }
}
