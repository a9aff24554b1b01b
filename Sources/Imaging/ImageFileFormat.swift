import CCodecs
import Foundation

/// The file formats `ImageFile` reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png, jpeg, tiff, webp

    /// The format a file name's extension names (`png`, `jpg`, `jpeg`, `tif`, `tiff`, any case).
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "tif", "tiff": self = .tiff
        case "webp": self = .webp
        default: return nil
        }
    }

    /// The format the leading bytes of a file identify, or nil when none matches.
    public init?<Bytes: Collection>(magic bytes: Bytes) where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(12))
        func starts(with prefix: [UInt8]) -> Bool { head.starts(with: prefix) }
        if starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if starts(with: [0x49, 0x49, 0x2A, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2A])
            || starts(with: [0x49, 0x49, 0x2B, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2B]) {
            self = .tiff  // classic and BigTIFF, both byte orders
        } else if starts(with: Array("RIFF".utf8)), head.count == 12, Array(head[8..<12]) == Array("WEBP".utf8) {
            self = .webp
        } else {
            return nil
        }
    }

    /// The name users know the format by, for messages.
    public var displayName: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        case .tiff: "TIFF"
        case .webp: "WebP"
        }
    }

    var codec: ccodecs_format {
        switch self {
        case .png: CCODECS_PNG
        case .jpeg: CCODECS_JPEG
        case .tiff: CCODECS_TIFF
        case .webp: CCODECS_WEBP
        }
    }

    /// The format of the file open at `descriptor`, from its content (read without moving
    /// the file offset); `url`'s extension only shapes the message.
    static func sniff(_ descriptor: Int32, url: URL) throws -> ImageFormat {
        let path = url.path
        var head = [UInt8](repeating: 0, count: 12)
        let count = pread(descriptor, &head, head.count, 0)
        if count < 0 {
            throw ImagingError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if count == 0 {
            throw ImagingError.unreadable(path: path, reason: "empty file (0 bytes)")
        }
        if let format = ImageFormat(magic: head.prefix(count)) { return format }
        if let claimed = ImageFormat(pathExtension: url.pathExtension) {
            throw ImagingError.unreadable(path: path, reason: "not a \(claimed.displayName) file (unrecognised content)")
        }
        throw ImagingError.unreadable(path: path, reason: "not a PNG, JPEG, TIFF or WebP file (unrecognised content)")
    }
}
