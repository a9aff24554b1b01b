import Imaging

/// What a camera puts in a photo, built byte by byte so that tests know every value: EXIF
/// (little-endian, as most cameras write it) with Make, Model, an Orientation, GPS, a
/// UserComment of its own and a thumbnail, and a small valid RGB display ICC profile.
public enum CameraMetadata {
    public static let make = "Overpaint Test Camera"
    public static let model = "TC-1"
    public static let cameraComment = "shot on a test camera"
    /// The thumbnail's bytes: a JPEG's start and end markers around a text no output may carry.
    public static let thumbnail: [UInt8] = [0xFF, 0xD8] + Array("stale thumbnail".utf8) + [0xFF, 0xD9]
    /// GPSLatitude 48° 51' 30" as three RATIONALs.
    public static let latitude: [UInt32] = [48, 1, 51, 1, 30, 1]

    /// The photo's metadata as `ImageFile.readWithMetadata` would give it for a file it did not
    /// turn upright.
    public static func metadata(orientation: Int = 6, width: Int = 64, height: Int = 48) -> ImageMetadata {
        ImageMetadata(exif: exif(orientation: orientation, width: width, height: height), iccProfile: iccProfile)
    }

    /// A TIFF-structured EXIF payload: IFD0, then the Exif and GPS directories it points to,
    /// then IFD1 and its thumbnail, each directory's long values right after it.
    public static func exif(orientation: Int = 6, width: Int = 64, height: Int = 48) -> [UInt8] {
        let exifEntries = [
            Entry(tag: 0x9000, type: 7, bytes: Array("0232".utf8)),  // ExifVersion
            Entry(tag: 0x9286, type: 7, bytes: Array("ASCII\0\0\0".utf8) + Array(cameraComment.utf8)),  // UserComment
            Entry(tag: 0xA002, type: 4, bytes: le32(UInt32(width))),  // PixelXDimension
            Entry(tag: 0xA003, type: 4, bytes: le32(UInt32(height))),  // PixelYDimension
        ]
        let gpsEntries = [
            Entry(tag: 0x0000, type: 1, bytes: [2, 3, 0, 0]),  // GPSVersionID
            Entry(tag: 0x0001, type: 2, bytes: Array("N\0".utf8)),  // GPSLatitudeRef
            Entry(tag: 0x0002, type: 5, bytes: latitude.flatMap(le32)),  // GPSLatitude
        ]
        func primaryEntries(exifAt: Int, gpsAt: Int) -> [Entry] {
            [
                Entry(tag: 0x010F, type: 2, bytes: Array(make.utf8) + [0]),
                Entry(tag: 0x0110, type: 2, bytes: Array(model.utf8) + [0]),
                Entry(tag: 0x0112, type: 3, bytes: le16(UInt16(orientation))),
                Entry(tag: 0x8769, type: 4, bytes: le32(UInt32(exifAt))),
                Entry(tag: 0x8825, type: 4, bytes: le32(UInt32(gpsAt))),
            ]
        }
        func thumbnailEntries(at offset: Int) -> [Entry] {
            [
                Entry(tag: 0x0201, type: 4, bytes: le32(UInt32(offset))),  // JPEGInterchangeFormat
                Entry(tag: 0x0202, type: 4, bytes: le32(UInt32(thumbnail.count))),  // JPEGInterchangeFormatLength
            ]
        }
        let primaryAt = 8
        let exifAt = primaryAt + size(of: primaryEntries(exifAt: 0, gpsAt: 0))
        let gpsAt = exifAt + size(of: exifEntries)
        let thumbnailDirectoryAt = gpsAt + size(of: gpsEntries)
        let thumbnailAt = thumbnailDirectoryAt + size(of: thumbnailEntries(at: 0))
        return Array("II".utf8) + le16(42) + le32(UInt32(primaryAt))
            + directory(primaryEntries(exifAt: exifAt, gpsAt: gpsAt), at: primaryAt, next: thumbnailDirectoryAt)
            + directory(exifEntries, at: exifAt, next: 0)
            + directory(gpsEntries, at: gpsAt, next: 0)
            + directory(thumbnailEntries(at: thumbnailAt), at: thumbnailDirectoryAt, next: 0)
            + thumbnail
    }

    /// A version 2.1 display profile for RGB data that libpng, libjpeg-turbo, libtiff and
    /// libwebpmux all take as it is: the media white point (D50), sRGB's primaries adapted to
    /// D50 and a description. (libpng reads no iCCP chunk shorter than 92 bytes, so a profile
    /// of the white point alone, which deflates to less, would not survive PNG.)
    public static let iccProfile: [UInt8] = {
        func xyz(_ values: [UInt32]) -> [UInt8] { Array("XYZ ".utf8) + [0, 0, 0, 0] + bigEndian(values) }
        let description = Array("Overpaint test RGB".utf8) + [0]
        let tags: [(signature: String, value: [UInt8])] = [
            ("wtpt", xyz([0x0000_F6D6, 0x0001_0000, 0x0000_D32D])),
            ("rXYZ", xyz([0x0000_6FA2, 0x0000_38F5, 0x0000_0390])),
            ("gXYZ", xyz([0x0000_6299, 0x0000_B785, 0x0000_18DA])),
            ("bXYZ", xyz([0x0000_24A0, 0x0000_0F84, 0x0000_B6CF])),
            ("desc", Array("desc".utf8) + [0, 0, 0, 0] + bigEndian([UInt32(description.count)]) + description),
        ]
        var table = bigEndian([UInt32(tags.count)])
        var values: [UInt8] = []
        var valueAt = 128 + 4 + 12 * tags.count
        for tag in tags {
            let padded = tag.value + [UInt8](repeating: 0, count: (4 - tag.value.count % 4) % 4)
            table += Array(tag.signature.utf8) + bigEndian([UInt32(valueAt), UInt32(tag.value.count)])
            values += padded
            valueAt += padded.count
        }
        var header = bigEndian([UInt32(valueAt)]) + Array("none".utf8) + [0x02, 0x10, 0, 0]
        header += Array("mntrRGB XYZ ".utf8) + [UInt8](repeating: 0, count: 12) + Array("acsp".utf8)
        header += [UInt8](repeating: 0, count: 24) + bigEndian([0])  // intent 0
        header += bigEndian([0x0000_F6D6, 0x0001_0000, 0x0000_D32D])  // PCS illuminant D50
        header += [UInt8](repeating: 0, count: 128 - header.count)
        return header + table + values
    }()

    private struct Entry {
        var tag: UInt16
        var type: UInt16
        var bytes: [UInt8]
        var count: Int { bytes.count / ([3: 2, 4: 4, 5: 8][type] ?? 1) }
    }

    private static func size(of entries: [Entry]) -> Int {
        2 + entries.count * 12 + 4 + entries.map { $0.bytes.count > 4 ? $0.bytes.count : 0 }.reduce(0, +)
    }

    /// Entries at `offset`, values over four bytes after the directory's next-directory link.
    private static func directory(_ entries: [Entry], at offset: Int, next: Int) -> [UInt8] {
        var valueAt = offset + 2 + entries.count * 12 + 4
        var table = le16(UInt16(entries.count))
        var values: [UInt8] = []
        for entry in entries {
            table += le16(entry.tag) + le16(entry.type) + le32(UInt32(entry.count))
            if entry.bytes.count > 4 {
                table += le32(UInt32(valueAt))
                values += entry.bytes
                valueAt += entry.bytes.count
            } else {
                table += entry.bytes + [UInt8](repeating: 0, count: 4 - entry.bytes.count)
            }
        }
        return table + le32(UInt32(next)) + values
    }

    private static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    private static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
    /// ICC profiles are big-endian throughout.
    private static func bigEndian(_ values: [UInt32]) -> [UInt8] {
        values.flatMap { value in (0..<4).map { UInt8(value >> (24 - 8 * $0) & 0xFF) } }
    }
}
