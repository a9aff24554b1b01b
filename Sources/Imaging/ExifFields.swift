/// The tags of a TIFF-structured EXIF payload, read without libexif: IFD0 and the Exif and
/// GPS directories it points to. Decoding needs only the orientation; what an output
/// carries (UserComment, Make, GPS) reads back through the same view.
struct ExifFields {
    enum Directory: Hashable { case primary, exif, gps }

    /// One tag's TIFF type, value count and value bytes (in the payload's byte order).
    struct Entry {
        var type: Int
        var count: Int
        var bytes: ArraySlice<UInt8>
    }

    private let payload: [UInt8]
    private let littleEndian: Bool
    private var directories: [Directory: [Int: Entry]] = [:]

    /// Nil when `payload` has no TIFF header; directories past its end are read as empty.
    init?(_ payload: [UInt8]) {
        guard payload.count >= 8 else { return nil }
        switch (payload[0], payload[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        self.payload = payload
        guard read(2, 2) == 42, let primary = read(4, 4) else { return nil }
        directories[.primary] = entries(at: primary)
        if let exif = integer(0x8769) { directories[.exif] = entries(at: exif) }
        if let gps = integer(0x8825) { directories[.gps] = entries(at: gps) }
    }

    func entry(_ tag: Int, in directory: Directory = .primary) -> Entry? {
        directories[directory]?[tag]
    }

    /// The first value of a SHORT or LONG tag.
    func integer(_ tag: Int, in directory: Directory = .primary) -> Int? {
        guard let entry = entry(tag, in: directory), entry.count >= 1 else { return nil }
        switch entry.type {
        case 3: return value(entry.bytes.prefix(2))
        case 4: return value(entry.bytes.prefix(4))
        default: return nil
        }
    }

    /// An ASCII tag's text, up to its NUL.
    func string(_ tag: Int, in directory: Directory = .primary) -> String? {
        guard let entry = entry(tag, in: directory), entry.type == 2 else { return nil }
        return String(decoding: entry.bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    // MARK: - Reading

    /// Bytes per value of each TIFF type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
    /// UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD).
    private static let typeSizes = [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4]

    private func read(_ offset: Int, _ size: Int) -> Int? {
        guard offset >= 0, size <= payload.count, offset <= payload.count - size else { return nil }
        return value(payload[offset..<offset + size])
    }

    private func value(_ bytes: ArraySlice<UInt8>) -> Int {
        let ordered = littleEndian ? Array(bytes.reversed()) : Array(bytes)
        return ordered.reduce(0) { $0 << 8 | Int($1) }
    }

    /// A directory's entries by tag; the first of a repeated tag counts, as readers take it.
    private func entries(at offset: Int) -> [Int: Entry] {
        guard let count = read(offset, 2) else { return [:] }
        var entries: [Int: Entry] = [:]
        for index in 0..<count {
            let start = offset + 2 + index * 12
            guard let tag = read(start, 2), let type = read(start + 2, 2), let values = read(start + 4, 4) else { break }
            guard entries[tag] == nil, let size = Self.typeSizes[type], let bytes = valueBytes(at: start + 8, length: size * values)
            else { continue }
            entries[tag] = Entry(type: type, count: values, bytes: bytes)
        }
        return entries
    }

    /// A value of `length` bytes: in the entry's value field when it fits in 4, else where that field points.
    private func valueBytes(at field: Int, length: Int) -> ArraySlice<UInt8>? {
        let start = length <= 4 ? field : read(field, 4)
        guard let start, start <= payload.count, length <= payload.count - start else { return nil }
        return payload[start..<start + length]
    }
}
