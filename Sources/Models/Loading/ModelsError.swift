import Foundation
import Weights

/// Everything that can go wrong while building a model (or a tokenizer) from its files.
///
/// Each message is one line naming the file (and the tensor or key, where there is one).
/// Problems with the weight files themselves (unreadable, truncated, pickle) are `WeightsError`s.
public enum ModelsError: LocalizedError, Equatable {
    /// A tensor the model needs is not in the checkpoint.
    case missingTensor(path: String, tensor: String)
    /// A tensor's shape differs from the one the model expects.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// The checkpoint holds tensors the model does not use (the first few names, and how many).
    case unexpectedTensors(path: String, tensors: [String], count: Int)
    /// A file the model needs beside its weights (config.json, a tokenizer file) does not exist.
    case missingFile(path: String)
    /// A config.json (or tokenizer file) is unreadable or does not fit the model; `detail` names the key.
    case badConfig(path: String, detail: String)
    /// The config asks for a variant this implementation does not provide.
    case unsupportedConfig(path: String, detail: String)
    /// The model belongs to a family recognised but not supported yet (SD3, Flux).
    case unsupportedFamily(path: String, family: String)

    public var errorDescription: String? {
        switch self {
        case let .missingTensor(path, tensor):
            return "\(path): missing tensor '\(tensor)'"
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .unexpectedTensors(path, tensors, count):
            return "\(path): unexpected tensors \(ReportedNames.listed(tensors, count: count))"
        case let .missingFile(path):
            return "\(path): no such file"
        case let .badConfig(path, detail):
            return "\(path): invalid config (\(detail))"
        case let .unsupportedConfig(path, detail):
            return "\(path): unsupported config (\(detail))"
        case let .unsupportedFamily(path, family):
            return "\(path): a \(family) model; \(family) is not supported yet (SD 1.x, SD 2.x and SDXL are)"
        }
    }
}
