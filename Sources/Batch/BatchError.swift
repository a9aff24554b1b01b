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
    /// Shards of another count are writing this output folder, or made the outputs its manifest
    /// records; the message names the count and how to go on. Nothing runs.
    case otherShardCount(String)
    /// A per-image failure: the message names the file and the problem.
    case image(String)
    /// A planned output would replace an input, or be taken for one by the next run; the
    /// message names both. Nothing runs.
    case outputOverInput(String)
    /// A mask, control or prompt template leads outside `--input`. Nothing runs.
    case outsideInput(String)
    /// No file under `--input` matched `match.images`. Nothing runs.
    case noImages(String)
    /// The folder a mask or control template reads from is not in `--input`, so every image
    /// would fail. Nothing runs.
    case missingSidecarFolder(String)
    /// A `--files-from` list cannot be read, or a line names a path outside `--input` or
    /// nothing at all; the message names the line. Nothing runs.
    case badFileList(String)
    /// Models the recipe names that do not load, one line each (the recipe key, the file and
    /// why). Nothing runs.
    case unusableModels([String])

    public var errorDescription: String? {
        switch self {
        case .invalidShard(let message), .busy(let message), .otherShardCount(let message), .image(let message),
             .outputOverInput(let message), .outsideInput(let message), .noImages(let message),
             .missingSidecarFolder(let message), .badFileList(let message):
            message
        case .unusableModels(let problems): problems.joined(separator: "\n")
        case .unreadableInput(let path, let reason): "\(path): cannot read input folder: \(reason)"
        case .unwritableOutput(let path, let reason): "\(path): cannot write output: \(reason)"
        }
    }
}
