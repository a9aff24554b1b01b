/// The EXIF orientation tag (0x0112); the C decoder stores the rows so as to undo it
/// (`ccodecs_decoder_read`), with the same transforms as Pillow's `ImageOps.exif_transpose`.
enum ExifOrientation {
    /// The orientation (1...8) in a TIFF-structured EXIF payload, or nil when absent or malformed.
    static func parse(_ exif: UnsafeBufferPointer<UInt8>) -> Int? {
        guard exif.count >= 8 else { return nil }
        let littleEndian: Bool
        switch (exif[0], exif[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        func read(_ offset: Int, _ size: Int) -> Int? {
            guard offset >= 0, offset + size <= exif.count else { return nil }
            var value = 0
            for index in 0..<size {
                let byte = Int(exif[offset + (littleEndian ? size - 1 - index : index)])
                value = value << 8 | byte
            }
            return value
        }
        guard read(2, 2) == 42, let ifd = read(4, 4), let entries = read(ifd, 2) else { return nil }
        for entry in 0..<entries {
            let offset = ifd + 2 + entry * 12
            guard let tag = read(offset, 2) else { return nil }
            // SHORT (type 3), count 1: the value sits in the first two bytes of the value field.
            guard tag == 0x0112, read(offset + 2, 2) == 3, let value = read(offset + 8, 2) else { continue }
            return (1...8).contains(value) ? value : nil
        }
        return nil
    }
}
