import Foundation
@testable import Imaging
import OverpaintTestSupport

/// The fixtures written by tools/reference/codec_fixtures.py (and its neighbours: bmp_, heif_,
/// xmp_fixtures.py).
enum CodecFixtures {
    static let directory = Fixtures.root.appendingPathComponent("codecs")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    /// The formats `ImageFile.write` encodes (HEIF and AVIF are read only).
    static let writableFormats: [ImageFormat] = [.png, .jpeg, .tiff, .webp]

    /// `image` written as `format` (`ImageFile.write` with `quality`, and `bitDepth` where given)
    /// to a file in a fresh scratch folder, and read back.
    static func roundTrip(_ image: Image, as format: ImageFormat, quality: Int = 95, bitDepth: Int? = nil,
                          _ test: String = #function) throws -> Image {
        let folder = try makeScratchFolder(test)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("round-trip.\(format.rawValue)")
        try ImageFile.write(image, to: url, format: format, quality: quality, bitDepth: bitDepth)
        return try ImageFile.read(url)
    }

    /// One entry of decode.json: a file and the samples a decoder must deliver.
    struct DecodeCase: Decodable, Sendable, CustomStringConvertible {
        var file: String
        var expected: String
        var width: Int
        var height: Int
        var channels: Int
        var bitDepth: Int
        /// Allowed difference in sample levels (JPEG: Pillow's libjpeg-turbo build vs the system's).
        var tolerance: Int
        var description: String { file }
    }

    /// decode.json's cases (codec_fixtures.py), then bmp_decode.json's (bmp_fixtures.py); none of a
    /// file that is unreadable (the tests over them then fail for want of cases).
    static func decodeCases() -> [DecodeCase] {
        ["decode.json", "bmp_decode.json"].flatMap { (try? Fixtures.decoded([DecodeCase].self, "codecs", $0)) ?? [] }
    }

    /// Raw expected samples: uint8, or uint16 little-endian.
    static func expectedSamples(_ name: String, bitDepth: Int) throws -> [Int] {
        let bytes = [UInt8](try data(name))
        if bitDepth == 8 { return bytes.map(Int.init) }
        return stride(from: 0, to: bytes.count, by: 2).map { Int(bytes[$0]) | Int(bytes[$0 + 1]) << 8 }
    }

    /// Samples as integer levels of `bitDepth`.
    static func levels(_ image: Image, bitDepth: Int) -> [Int] {
        let maximum = Float((1 << bitDepth) - 1)
        return image.samples.map { Int(($0 * maximum).rounded()) }
    }

    /// A deterministic image whose samples are exact 8- or 16-bit levels.
    static func pattern(width: Int, height: Int, channels: Int, bitDepth: Int, seed: UInt64 = 1) -> Image {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        let maximum = (1 << bitDepth) - 1
        let samples = (0..<(width * height * channels)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 33) % (maximum + 1)) / Float(maximum)
        }
        return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
    }

    /// A smooth image, kind to JPEG.
    static func gradient(width: Int, height: Int, channels: Int) -> Image {
        var image = Image(width: width, height: height, channels: channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let value = (Float(x) / Float(width) + Float(y) / Float(height) + Float(c) * 0.2) / 2.4
                    image[x, y, c] = (value * 255).rounded() / 255
                }
            }
        }
        return image
    }
}
