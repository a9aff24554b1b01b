/// One slice of a batch split across machines: image `i` of `n` slices goes to the slice
/// chosen by a stable hash of its relative path, so every image lands in exactly one slice
/// whatever else is in the folder.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(BatchError) {
        guard count >= 1, (0..<count).contains(index) else {
            throw .invalidShard("shard \(index)/\(count): need 0 <= index < count")
        }
        self.index = index
        self.count = count
    }

    /// `I/N`, or `N` alone with the index taken from the environment (a Slurm array task or
    /// a Kubernetes Indexed Job). Without a flag, a Slurm array shards by itself.
    public static func resolve(flag: String?, environment: [String: String]) throws(BatchError) -> Shard? {
        if let flag {
            let parts = flag.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) {
                return try Shard(index: index, count: count)
            }
            guard parts.count == 1, let count = Int(parts[0]) else {
                throw .invalidShard("--shard '\(flag)': expected I/N (e.g. 0/4) or N")
            }
            guard let index = environmentIndex(environment) else {
                throw .invalidShard("--shard \(count): no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX to take the index from")
            }
            return try Shard(index: index, count: count)
        }
        guard let countText = environment["SLURM_ARRAY_TASK_COUNT"] else { return nil }
        guard let count = Int(countText), let index = environmentIndex(environment) else {
            throw .invalidShard("SLURM_ARRAY_TASK_COUNT=\(countText) without a usable SLURM_ARRAY_TASK_ID")
        }
        return try Shard(index: index, count: count)
    }

    /// Slurm numbers array tasks from SLURM_ARRAY_TASK_MIN (often 1); shards count from 0.
    private static func environmentIndex(_ environment: [String: String]) -> Int? {
        if let task = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) {
            return task - (environment["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0)
        }
        return environment["JOB_COMPLETION_INDEX"].flatMap(Int.init)
    }

    public func contains(_ relativePath: String) -> Bool {
        Int(Self.stableHash(relativePath) % UInt64(count)) == index
    }

    /// FNV-1a over the UTF-8 bytes: the same on every machine and every run, unlike `Hasher`.
    static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0100_0000_01b3 }
    }

    public var description: String { "\(index)/\(count)" }
}
