import Foundation

/// One writer per shard of an output folder: an exclusive `flock` on `.overpaint-lock`
/// (`.overpaint-lock-IofN` for a shard) inside `--output`, held for the whole run and
/// released by the kernel however the process ends. The holder writes its pid and host into
/// the file, so a second run of the same shard can say who holds it.
final class ShardLock {
    private let descriptor: Int32

    static func fileName(for shard: Shard?) -> String { ".overpaint-lock" + suffix(for: shard) }

    /// `-IofN` for a shard, nothing for a whole run: the tag its lock and temporaries carry.
    static func suffix(for shard: Shard?) -> String { shard.map { "-\($0.index)of\($0.count)" } ?? "" }

    init(folder: URL, shard: Shard?) throws(BatchError) {
        let url = folder.appendingPathComponent(Self.fileName(for: shard))
        descriptor = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .unwritableOutput(path: url.path, reason: String(cString: strerror(errno)))
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(descriptor)
            close(descriptor)
            let slice = shard.map { "shard \($0)" } ?? "this output folder"
            throw .busy("\(folder.path): \(slice) is being written by another run (\(holder), lock \(url.lastPathComponent)); wait for it to finish or stop it")
        }
        let owner = Data("pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = owner.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    private static func holder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        let text = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "pid not yet recorded" : text
    }
}
