import Foundation

/// Everything the Imaging module can fail with. Each description is one line that names
/// the file (or the operation) and the problem, fit for a batch manifest.
public enum ImagingError: LocalizedError, Equatable, Sendable {
    /// The file could not be opened, or its content is not a decodable image (empty,
    /// truncated, corrupt, not the format it claims).
    case unreadable(path: String, reason: String)
    /// The file is a valid image in a layout this module does not decode (e.g. CMYK JPEG).
    case unsupported(path: String, reason: String)
    /// The header claims more pixels than the caller allows; no pixel memory was allocated.
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// The image could not be encoded or written to the path.
    case writeFailed(path: String, reason: String)

    public var errorDescription: String? {
        let text: String
        switch self {
        case let .unreadable(path, reason):
            text = "cannot read \(path): \(reason)"
        case let .unsupported(path, reason):
            text = "unsupported image \(path): \(reason)"
        case let .tooLarge(path, width, height, limit):
            text = "image \(path) is too large: \(width)x\(height) pixels exceeds the limit of \(limit) pixels"
        case let .writeFailed(path, reason):
            text = "cannot write \(path): \(reason)"
        }
        return Self.singleLine(text)
    }

    /// Library messages and odd file names may carry line breaks; a manifest line may not.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
