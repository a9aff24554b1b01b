/// Hand-built PNG byte streams (with valid CRCs) for headers no encoder will write.
public enum PNGBytes {
    /// The eight bytes every PNG file opens with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A PNG whose IHDR claims `width` x `height` (colour type 2: RGB, 4: gray+alpha, 6: RGBA,
    /// 0: gray), followed by a few bytes of image data unless `imageData` is false.
    public static func file(width: UInt32, height: UInt32, bitDepth: UInt8 = 8, colorType: UInt8 = 2,
                            imageData: Bool = true) -> [UInt8] {
        let header = bigEndian(width) + bigEndian(height) + [bitDepth, colorType, 0, 0, 0]
        // A zlib header and a few bytes: enough for libpng to reach the first IDAT.
        let data = imageData ? chunk("IDAT", [0x78, 0x9C, 0x63, 0x60, 0x00, 0x00]) : []
        return signature + chunk("IHDR", header) + data + chunk("IEND", [])
    }

    /// One chunk: its length, type, data and the CRC of type and data.
    public static func chunk(_ kind: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(kind.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    public static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks use.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
