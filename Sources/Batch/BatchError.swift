import Foundation

public enum BatchError: LocalizedError, Equatable {
    /// `--shard` or the scheduler's environment does not name a valid slice.
    case invalidShard(String)
    /// The input folder cannot be listed.
    case unreadableInput(path: String, reason: String)
    /// The output folder cannot be created or written.
    case unwritableOutput(path: String, reason: String)
    /// A per-image failure: the message names the file and the problem.
    case image(String)
    /// A planned output would replace an input, or be taken for one by the next run; the
    /// message names both. Nothing runs.
    case outputOverInput(String)
    /// A mask, control or prompt template leads outside `--input`. Nothing runs.
    case outsideInput(String)

    public var errorDescription: String? {
        switch self {
        case .invalidShard(let message), .image(let message), .outputOverInput(let message), .outsideInput(let message):
            message
        case .unreadableInput(let path, let reason): "\(path): cannot read input folder: \(reason)"
        case .unwritableOutput(let path, let reason): "\(path): cannot write output: \(reason)"
        }
    }
}
