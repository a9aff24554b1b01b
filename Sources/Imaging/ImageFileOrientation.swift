/// The EXIF orientation tag (0x0112) and the transform that undoes it.
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

extension Image {
    /// The image as it should be displayed, given the EXIF orientation it was stored with
    /// (the same transforms as Pillow's `ImageOps.exif_transpose`).
    func oriented(exifOrientation orientation: Int) -> Image {
        guard (2...8).contains(orientation) else { return self }
        let swapsAxes = orientation >= 5
        let outWidth = swapsAxes ? height : width
        let outHeight = swapsAxes ? width : height
        let (w, h, c) = (width, height, channels)
        var output = Image(width: outWidth, height: outHeight, channels: c, bitDepth: bitDepth)
        samples.withUnsafeBufferPointer { input in
            output.samples.withUnsafeMutableBufferPointer { out in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)          // mirror left-right
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)  // rotate 180
                        case 4: (sx, sy) = (x, h - 1 - y)          // mirror top-bottom
                        case 5: (sx, sy) = (y, x)                  // transpose
                        case 6: (sx, sy) = (y, h - 1 - x)          // rotate 90 clockwise
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)  // transverse
                        default: (sx, sy) = (w - 1 - y, x)         // 8: rotate 90 counter-clockwise
                        }
                        let source = (sy * w + sx) * c, target = (y * outWidth + x) * c
                        for channel in 0..<c { out[target + channel] = input[source + channel] }
                    }
                }
            }
        }
        return output
    }
}
