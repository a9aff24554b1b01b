/// 8-bit views of `Image` samples, as OpenCV and Pillow see a `uint8` array.
///
/// Classical algorithms whose reference works on bytes (Canny, Telea, Pillow's blur) quantize
/// with `round(v * 255)`, which recovers 8-bit files exactly.
enum Plane {
    static func byte(_ value: Float) -> UInt8 {
        let scaled = (value * 255).rounded()
        if !(scaled > 0) { return 0 }  // also maps NaN to 0
        return scaled >= 255 ? 255 : UInt8(scaled)
    }

    /// Channels `first..<first+count` of every pixel, interleaved, as bytes.
    static func bytes(of image: Image, channels range: Range<Int>) -> [UInt8] {
        let count = range.count
        return [UInt8](unsafeUninitializedCapacity: image.pixelCount * count) { out, initialized in
            image.samples.withUnsafeBufferPointer { src in
                for p in 0..<image.pixelCount {
                    let base = p * image.channels + range.lowerBound
                    for c in 0..<count { out[p * count + c] = byte(src[base + c]) }
                }
            }
            initialized = image.pixelCount * count
        }
    }

    static func checkShape(width: Int, height: Int, channels: Int, count: Int) throws {
        guard width > 0, height > 0, channels > 0 else {
            throw ImageOpsError.invalidShape(width: width, height: height, channels: channels)
        }
        guard count == width * height * channels else {
            throw ImageOpsError.sampleCountMismatch(expected: width * height * channels, actual: count)
        }
    }
}
