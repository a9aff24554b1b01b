import Foundation

/// One writer per shard of an output folder: an exclusive `flock` on `.overpaint-lock`
/// (`.overpaint-lock-IofN` for a shard) inside `--output`, held for the whole run and
/// released by the kernel however the process ends. A shard also holds `.overpaint-lock`
/// shared, so shards run side by side while a whole-folder run, which would write their
/// images too, excludes them all; and it holds `.overpaint-lock-shards` shared, which says
/// how many shards the running ones split the folder into, so that shards of another count,
/// whose slices cut across theirs, are refused. The holder of an exclusive lock writes its pid
/// and host into the file, so a second run can say who holds it.
final class ShardLock {
    private let descriptors: [Int32]

    /// Holds the count of the shards running, each of which holds it shared.
    static let countFileName = ".overpaint-lock-shards"
    /// Locked in turn by starting shards, for the moment `holdCount` takes.
    static let turnFileName = ".overpaint-lock-turn"

    static func fileName(for shard: Shard?) -> String { ".overpaint-lock" + suffix(for: shard) }

    /// `-IofN` for a shard, nothing for a whole run: the tag its lock and temporaries carry.
    static func suffix(for shard: Shard?) -> String { shard.map { "-\($0.index)of\($0.count)" } ?? "" }

    init(folder: URL, shard: Shard?) throws(BatchError) {
        let slice = shard.map { "shard \($0)" } ?? "this output folder"
        var held: [Int32] = []
        do {
            if let shard {
                held.append(try Self.lock(folder.appendingPathComponent(Self.fileName(for: nil)), shared: true) { holder in
                    "\(folder.path): \(slice) cannot start while a run of the whole folder writes it (\(holder), lock \(Self.fileName(for: nil))); wait for it to finish or stop it"
                })
                held.append(try Self.holdCount(of: shard, in: folder))
            }
            let url = folder.appendingPathComponent(Self.fileName(for: shard))
            held.append(try Self.lock(url, shared: false) { holder in
                "\(folder.path): \(slice) is being written by another run (\(holder), lock \(url.lastPathComponent)); wait for it to finish or stop it"
            })
        } catch {
            held.forEach { close($0) }
            throw error
        }
        descriptors = held
        let owner = Data("pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n".utf8)
        if let own = descriptors.last {
            _ = ftruncate(own, 0)
            _ = owner.withUnsafeBytes { pwrite(own, $0.baseAddress, $0.count, 0) }
        }
    }

    /// Shards of one count at a time: the first shard to start writes its count into
    /// `.overpaint-lock-shards`, and every shard holds that file shared while it runs; one of
    /// another count finds it held with a count not its own. Starting shards take turns on
    /// `.overpaint-lock-turn` meanwhile, so that none finds the file held by another's check,
    /// or held before its count is written (a running shard never touches either again).
    private static func holdCount(of shard: Shard, in folder: URL) throws(BatchError) -> Int32 {
        let turnURL = folder.appendingPathComponent(turnFileName)
        let turn = try openLockFile(turnURL)
        defer { close(turn) }
        try waitForTurn(turn, path: turnURL.path)
        let descriptor = try openLockFile(folder.appendingPathComponent(countFileName))
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            let count = Data("\(shard.count)\n".utf8)
            _ = ftruncate(descriptor, 0)
            _ = count.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        } else if let running = Int(contents(descriptor)), running != shard.count {
            close(descriptor)
            throw .otherShardCount("\(folder.path): shard \(shard) cannot start while shards of \(running) write it (--shard I/\(running), lock \(countFileName)); use --shard I/\(running) as they do, or wait for them to finish")
        }
        // Held alone a moment ago, or shared by running shards of this count: shared from now on.
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else {
            close(descriptor)
            throw .busy("\(folder.path): shard \(shard) cannot start: \(countFileName) is locked by something other than a shard")
        }
        return descriptor
    }

    /// Waits for the turn lock, held by a starting shard only for the moment its checks take.
    private static func waitForTurn(_ descriptor: Int32, path: String) throws(BatchError) {
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .unwritableOutput(path: path, reason: String(cString: strerror(errno))) }
        }
    }

    /// `url` opened for locking, never through a link, and created when missing.
    private static func openLockFile(_ url: URL) throws(BatchError) -> Int32 {
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .unwritableOutput(path: url.path, reason: String(cString: strerror(errno)))
        }
        return descriptor
    }

    /// `url` opened (never through a link) and locked, exclusively or shared, without waiting;
    /// `busy` says who holds it when it is taken.
    private static func lock(_ url: URL, shared: Bool, busy: (String) -> String) throws(BatchError) -> Int32 {
        let descriptor = try openLockFile(url)
        guard flock(descriptor, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 else {
            // a shared hold that would be granted means shards hold it, not one run that wrote its pid
            let heldByShards = !shared && flock(descriptor, LOCK_SH | LOCK_NB) == 0
            let holder = heldByShards ? "shards of it are being written" : Self.holder(descriptor)
            close(descriptor)
            throw .busy(busy(holder))
        }
        return descriptor
    }

    /// Ends the run's hold on the shard. The run calls it when it returns rather than leaving it
    /// to `deinit`: work still queued on its reading thread may keep the runner alive a moment
    /// longer, and the next run of the shard (in this process or another) must not see it busy.
    func release() { descriptors.forEach { flock($0, LOCK_UN) } }

    deinit { descriptors.forEach { close($0) } }

    private static func holder(_ descriptor: Int32) -> String {
        let text = contents(descriptor)
        return text.isEmpty ? "pid not yet recorded" : text
    }

    /// What a lock file says (its first 256 bytes), trimmed.
    private static func contents(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
