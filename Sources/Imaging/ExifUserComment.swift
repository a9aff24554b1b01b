/// The EXIF block A1111 writes into JPEG and WebP files: `piexif.dump` of an Exif IFD
/// holding UserComment (0x9286) = `piexif.helper.UserComment.dump(text, encoding="unicode")`,
/// i.e. the 8-byte charset prefix "UNICODE\0" and the text as UTF-16 big-endian; piexif
/// writes big-endian ("MM") TIFF structure.
enum ExifUserComment {
    /// A TIFF-structured EXIF payload carrying `text`, or nil for no text.
    static func exif(_ text: String?) -> [UInt8]? {
        guard let text else { return nil }
        let comment = Array("UNICODE\0".utf8) + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        var bytes: [UInt8] = Array("MM".utf8) + be16(42) + be32(8)
        // IFD0 at 8: one entry, ExifIFDPointer (LONG), pointing just past it (8 + 2 + 12 + 4 = 26).
        bytes += be16(1) + be16(0x8769) + be16(4) + be32(1) + be32(26) + be32(0)
        // Exif IFD at 26: one entry, UserComment (UNDEFINED), its bytes after the IFD (26 + 18 = 44).
        bytes += be16(1) + be16(0x9286) + be16(7) + be32(UInt32(comment.count)) + be32(44) + be32(0)
        return bytes + comment
    }

    /// The UserComment text in a payload written as `exif` writes it, or nil.
    static func text(in exif: [UInt8]) -> String? {
        func read(_ offset: Int, _ size: Int) -> Int? {
            guard offset >= 0, offset + size <= exif.count else { return nil }
            return exif[offset..<offset + size].reduce(0) { $0 << 8 | Int($1) }
        }
        guard exif.starts(with: Array("MM".utf8)), let ifd = read(4, 4), read(ifd + 2, 2) == 0x8769,
              let exifIFD = read(ifd + 10, 4), read(exifIFD + 2, 2) == 0x9286,
              let count = read(exifIFD + 6, 4), let offset = read(exifIFD + 10, 4), count >= 8,
              offset + count <= exif.count, Array(exif[offset..<offset + 8]) == Array("UNICODE\0".utf8) else { return nil }
        let units = stride(from: offset + 8, to: offset + count - 1, by: 2).map { UInt16(exif[$0]) << 8 | UInt16(exif[$0 + 1]) }
        return String(decoding: units, as: UTF16.self)
    }

    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    private static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (24 - 8 * $0) & 0xFF) } }
}
