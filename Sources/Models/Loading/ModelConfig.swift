import Foundation

/// A model's `config.json`, decoded with the keys and defaults diffusers or transformers use.
public protocol ModelConfig: Decodable, Sendable {
    /// Why this implementation cannot build the model the config describes, or nil when it can.
    var unsupportedFeature: String? { get }
}

extension ModelConfig {
    /// Reads `config.json`; a missing, unreadable or malformed file is a one-line `ModelsError`
    /// naming the file (and, for a malformed one, the key).
    public static func load(from url: URL) throws -> Self {
        try decodeJSONFile(Self.self, from: url)
    }

    /// Throws `ModelsError.unsupportedConfig` naming the weights at `path` when the config asks
    /// for a variant this implementation does not provide.
    func checkSupported(weightsPath path: String) throws {
        if let feature = unsupportedFeature { throw ModelsError.unsupportedConfig(path: path, detail: feature) }
    }
}

/// Decodes the JSON file at `url` (a config, a tokenizer's vocabulary...); every problem is a
/// one-line `ModelsError` naming the file, and the key where the JSON does not fit `T`.
func decodeJSONFile<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelsError.missingFile(path: url.path) }
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw ModelsError.badConfig(path: url.path, detail: "cannot read (\(error.localizedDescription))")
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw ModelsError.badConfig(path: url.path, detail: error.located)
    }
}

extension DecodingError {
    /// The failing key path and the decoder's reason on one line: `'block_out_channels': Expected...`.
    var located: String {
        switch self {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .keyNotFound(_, context),
             let .dataCorrupted(context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            let reason = context.debugDescription.replacingOccurrences(of: "\n", with: " ")
            return key.isEmpty ? reason : "'\(key)': \(reason)"
        @unknown default:
            return "\(self)".replacingOccurrences(of: "\n", with: " ")
        }
    }
}
