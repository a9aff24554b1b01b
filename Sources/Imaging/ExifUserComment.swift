/// The EXIF block A1111 writes into JPEG and WebP files: `piexif.dump` of an Exif IFD
/// holding UserComment (0x9286) = `piexif.helper.UserComment.dump(text, encoding="unicode")`,
/// i.e. the 8-byte charset prefix "UNICODE\0" and the text as UTF-16 big-endian; piexif
/// writes big-endian ("MM") TIFF structure. A photo's own EXIF gets the same UserComment
/// (`ccodecs_exif_rewrite`), UTF-16 big-endian whatever the photo's byte order, as piexif
/// writes and reads it there too.
enum ExifUserComment {
    /// A TIFF-structured EXIF payload carrying `text`, or nil for no text.
    static func exif(_ text: String?) -> [UInt8]? {
        guard let text else { return nil }
        let comment = comment(text)
        var bytes: [UInt8] = Array("MM".utf8) + be16(42) + be32(8)
        // IFD0 at 8: one entry, ExifIFDPointer (LONG), pointing just past it (8 + 2 + 12 + 4 = 26).
        bytes += be16(1) + be16(0x8769) + be16(4) + be32(1) + be32(26) + be32(0)
        // Exif IFD at 26: one entry, UserComment (UNDEFINED), its bytes after the IFD (26 + 18 = 44).
        bytes += be16(1) + be16(0x9286) + be16(7) + be32(UInt32(comment.count)) + be32(44) + be32(0)
        return bytes + comment
    }

    /// The UserComment value for `text`: charset prefix, then UTF-16 big-endian.
    static func comment(_ text: String) -> [UInt8] {
        Array("UNICODE\0".utf8) + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The text of a UNICODE UserComment in a TIFF-structured payload, or nil.
    static func text(in exif: [UInt8]) -> String? {
        guard let value = ExifFields(exif)?.entry(0x9286, in: .exif)?.bytes, value.count >= 8,
              value.prefix(8).elementsEqual("UNICODE\0".utf8) else { return nil }
        let body = value.dropFirst(8)
        let units = stride(from: body.startIndex, to: body.endIndex - 1, by: 2).map { UInt16(body[$0]) << 8 | UInt16(body[$0 + 1]) }
        return String(decoding: units, as: UTF16.self)
    }

    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    private static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (24 - 8 * $0) & 0xFF) } }
}
