import FileAccess
import Foundation

/// Everything that can go wrong while finding, opening or reading weight files.
///
/// Each message is one line naming the file (and the tensor, where there is one). Whether the
/// tensors fit a model (missing, mis-shaped or unexpected names) is the model's check, a `ModelsError`.
public enum WeightsError: LocalizedError, Equatable {
    /// The path does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or mapped.
    case unreadable(path: String, reason: String)
    /// The file ends before its header or a tensor's data does.
    case truncated(path: String, detail: String)
    /// The JSON header (or an index file) is malformed or inconsistent.
    case badHeader(path: String, detail: String)
    /// A tensor asked for by name is not in the file (or the shard an index names).
    case missingTensor(path: String, tensor: String)
    /// A tensor's element type cannot be used as a weight.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A pickle-based checkpoint (.ckpt/.pt/.pth/.bin) was given; these are never unpickled.
    case pickleRefused(path: String)
    /// The path is neither a diffusers folder nor a recognised single-file checkpoint.
    case unrecognizedLayout(path: String, detail: String)
    /// A JSON file beside the weights (model_index.json, config.json, an index) is malformed.
    case badConfig(path: String, detail: String)
    /// A tensor could not be written.
    case writeFailed(path: String, reason: String)
    /// An ncnn `.param` file is malformed at `line`.
    case badNCNNParam(path: String, line: Int, detail: String)
    /// An ncnn layer has a type this reader does not implement.
    case unsupportedNCNNLayer(path: String, layer: String, type: String)
    /// An ncnn `.bin` file's weights for `layer` cannot be read.
    case badNCNNWeights(path: String, layer: String, detail: String)
    /// The path is a FIFO, socket, device or folder where a file was wanted, a dangling
    /// symbolic link or a link loop; refused before anything could block on it.
    case notAFile(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .fileNotFound(path):
            return "\(path): no such file or folder"
        case let .unreadable(path, reason):
            return "\(path): cannot read (\(reason))"
        case let .truncated(path, detail):
            return "\(path): file is truncated (\(detail))"
        case let .badHeader(path, detail):
            return "\(path): bad safetensors header (\(detail))"
        case let .missingTensor(path, tensor):
            return "\(path): missing tensor '\(tensor)'"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has unsupported dtype \(dtype) (weights must be F32, F16, BF16 or F64)"
        case let .pickleRefused(path):
            return "\(path): pickle checkpoints are never loaded; convert it to .safetensors first"
        case let .unrecognizedLayout(path, detail):
            return "\(path): not a diffusers folder or single-file checkpoint (\(detail))"
        case let .badConfig(path, detail):
            return "\(path): invalid JSON (\(detail))"
        case let .writeFailed(path, reason):
            return "\(path): cannot write (\(reason))"
        case let .badNCNNParam(path, line, detail):
            return "\(path):\(line): bad ncnn param (\(detail))"
        case let .unsupportedNCNNLayer(path, layer, type):
            return "\(path): layer '\(layer)' has unsupported ncnn type '\(type)'"
        case let .badNCNNWeights(path, layer, detail):
            return "\(path): weights of layer '\(layer)' unreadable (\(detail))"
        case let .notAFile(path, reason):
            return "\(path): \(reason)"
        }
    }
}

extension WeightsError {
    /// Why `RegularFile` would not open a path, in this module's terms.
    init(_ error: RegularFileError) {
        switch error.problem {
        case .missing: self = .fileNotFound(path: error.path)
        case let .unreadable(reason): self = .unreadable(path: error.path, reason: reason)
        case .notRegular, .danglingLink, .linkLoop: self = .notAFile(path: error.path, reason: error.reason)
        }
    }
}

/// The whole regular file at `url` (JSON and text beside the weights), failing as WeightsError.
func regularFileContents(_ url: URL) throws -> Data {
    do {
        return try RegularFile.contents(of: url)
    } catch {
        throw WeightsError(error)
    }
}
