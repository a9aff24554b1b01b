import Foundation
import Weights

/// Everything that can go wrong while reading an adapter file (LoRA, LyCORIS) or fusing it into
/// a model. Each message is one line naming the file.
public enum AdapterError: LocalizedError, Equatable {
    /// Keys whose names no layout explains (the first few, and how many).
    case unrecognizedKeys(path: String, keys: [String], count: Int)
    /// Modules the file adapts that the model does not have (their keys, the first few, and how many).
    case unmatchedKeys(path: String, keys: [String], count: Int)
    /// A module's tensors do not make an update of the weight's shape, or a part is missing.
    case badModule(path: String, module: String, detail: String)
    /// A module uses a variant this version does not fuse (e.g. Tucker-decomposed convolutions).
    case unsupported(path: String, module: String, detail: String)
    /// A textual inversion file that holds no single embedding, or one the model cannot take.
    case badEmbedding(path: String, detail: String)
    /// The file's `__metadata__` cannot be used as it says.
    case badMetadata(path: String, detail: String)
    /// The file adapts a text encoder or UNet the model has no such component for.
    case missingComponent(path: String, component: String)

    public var errorDescription: String? {
        switch self {
        case let .unrecognizedKeys(path, keys, count):
            return "\(path): not a LoRA / LyCORIS key layout: \(ReportedNames.listed(keys, count: count))"
        case let .unmatchedKeys(path, keys, count):
            return "\(path): keys match no module of the model: \(ReportedNames.listed(keys, count: count))"
        case let .badModule(path, module, detail):
            return "\(path): module '\(module)': \(detail)"
        case let .unsupported(path, module, detail):
            return "\(path): module '\(module)': \(detail) is not supported"
        case let .badEmbedding(path, detail):
            return "\(path): \(detail)"
        case let .badMetadata(path, detail):
            return "\(path): metadata: \(detail)"
        case let .missingComponent(path, component):
            return "\(path): adapts a \(component) the model does not have"
        }
    }

    /// The first `ReportedNames.limit` of `keys`, sorted, with their count.
    static func reported(_ keys: [String]) -> (keys: [String], count: Int) {
        (Array(keys.sorted().prefix(ReportedNames.limit)), keys.count)
    }
}
