import CCodecs
import Foundation

/// The file formats `ImageFile` reads; all but HEIF, AVIF and BMP are written too.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png, jpeg, tiff, webp
    /// HEIC and the other HEIF images phones write, and AVIF: read, never written.
    case heif, avif
    /// Windows bitmaps: read, never written.
    case bmp

    /// The format a file name's extension names (`png`, `jpg`, `jpeg`, `tif`, `tiff`, `webp`,
    /// `heic`, `heif`, `hif`, `avif`, `bmp`, any case).
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "tif", "tiff": self = .tiff
        case "webp": self = .webp
        case "heic", "heif", "hif": self = .heif
        case "avif": self = .avif
        case "bmp": self = .bmp
        default: return nil
        }
    }

    /// ISO-BMFF major brands (the `ftyp` box's first) of still images and sequences in HEVC,
    /// or in any codec (`mif1`, `msf1`), and of AV1 ones; libheif decodes the primary image of each.
    private static let heifBrands: Set<String> = ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"]
    private static let avifBrands: Set<String> = ["avif", "avis"]

    /// The sizes of the info headers that follow a BMP's "BM" file header (OS/2 1.x and 2.x,
    /// Windows 3.x, the V2, V3 (Adobe), V4 and V5 headers): "BM" alone is too common a start of
    /// other files to tell a bitmap by.
    private static let bmpHeaderSizes: Set<UInt32> = [12, 16, 40, 52, 56, 64, 108, 124]

    /// How many leading bytes `init(magic:)` looks at: through a BMP's info header size.
    static let magicLength = 18

    /// The format the leading bytes of a file identify, or nil when none matches.
    public init?<Bytes: Collection>(magic bytes: Bytes) where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(Self.magicLength))
        func starts(with prefix: [UInt8]) -> Bool { head.starts(with: prefix) }
        if starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if starts(with: [0x49, 0x49, 0x2A, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2A])
            || starts(with: [0x49, 0x49, 0x2B, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2B]) {
            self = .tiff  // classic and BigTIFF, both byte orders
        } else if starts(with: Array("RIFF".utf8)), head.count >= 12, Array(head[8..<12]) == Array("WEBP".utf8) {
            self = .webp
        } else if starts(with: Array("BM".utf8)), head.count >= 18,
                  Self.bmpHeaderSizes.contains(head[14..<18].reversed().reduce(0) { $0 << 8 | UInt32($1) }) {
            self = .bmp
        } else if head.count >= 12, Array(head[4..<8]) == Array("ftyp".utf8) {
            let brand = String(decoding: head[8..<12], as: UTF8.self)
            if Self.heifBrands.contains(brand) {
                self = .heif
            } else if Self.avifBrands.contains(brand) {
                self = .avif
            } else {
                return nil  // an MP4 video, a QuickTime movie, a JPEG 2000 file...
            }
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
        case .heif: "HEIF"
        case .avif: "AVIF"
        case .bmp: "BMP"
        }
    }

    /// Whether the decoder turns the pixels by the file's EXIF Orientation, as Pillow's
    /// `ImageOps.exif_transpose` (diffusers' `load_image`) does: JPEG, PNG (eXIf) and WebP.
    /// TIFF's EXIF is not read; HEIF and AVIF are oriented by their own transforms; BMP has none.
    var turnsByEXIFOrientation: Bool {
        switch self {
        case .jpeg, .png, .webp: true
        case .tiff, .heif, .avif, .bmp: false
        }
    }

    /// Whether reading turns the pixels upright, so that the EXIF Orientation written with them
    /// must be 1: the formats turned by their EXIF Orientation, and HEIF / AVIF, whose irot /
    /// imir transforms libheif applies (their EXIF Orientation, where a camera writes one,
    /// repeats them). TIFF's pixels come as stored, and BMP's, which no orientation describes.
    var readsUpright: Bool { self != .tiff && self != .bmp }

    /// Whether the pixels come upright whatever the file's EXIF says: HEIF and AVIF, which
    /// libheif turns by their own transforms.
    var isOrientedByItsContainer: Bool { self == .heif || self == .avif }

    var codec: ccodecs_format {
        switch self {
        case .png: CCODECS_PNG
        case .jpeg: CCODECS_JPEG
        case .tiff: CCODECS_TIFF
        case .webp: CCODECS_WEBP
        case .heif, .avif: CCODECS_HEIF
        case .bmp: CCODECS_BMP
        }
    }

    /// The format of the file open at `descriptor`, from its content (read without moving
    /// the file offset); `url`'s extension only shapes the message.
    static func sniff(_ descriptor: Int32, url: URL) throws -> ImageFormat {
        let path = url.path
        var head = [UInt8](repeating: 0, count: magicLength)
        let count = pread(descriptor, &head, head.count, 0)
        if count < 0 {
            throw ImagingError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        if count == 0 {
            throw ImagingError.unreadable(path: path, reason: "empty file (0 bytes)")
        }
        if let format = ImageFormat(magic: head.prefix(count)) { return format }
        if let claimed = ImageFormat(pathExtension: url.pathExtension) {
            let article = claimed == .avif ? "an" : "a"
            throw ImagingError.unreadable(path: path,
                                          reason: "not \(article) \(claimed.displayName) file (unrecognised content)")
        }
        throw ImagingError.unreadable(path: path,
                                      reason: "not a PNG, JPEG, TIFF, WebP, BMP, HEIF or AVIF file (unrecognised content)")
    }
}
