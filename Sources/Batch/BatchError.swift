import Foundation

public enum BatchError: LocalizedError, Equatable {
    /// `--shard` or the scheduler's environment does not name a valid slice.
    case invalidShard(String)
    /// The input folder cannot be listed.
    case unreadableInput(path: String, reason: String)
    /// The output folder cannot be created or written.
    case unwritableOutput(path: String, reason: String)
    /// Another run holds the lock of this shard of the output folder; the message names it.
    case busy(String)
    /// A per-image failure: the message names the file and the problem.
    case image(String)

    public var errorDescription: String? {
        switch self {
        case .invalidShard(let message), .busy(let message), .image(let message): message
        case .unreadableInput(let path, let reason): "\(path): cannot read input folder: \(reason)"
        case .unwritableOutput(let path, let reason): "\(path): cannot write output: \(reason)"
        }
    }
}
