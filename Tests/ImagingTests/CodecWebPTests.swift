import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// WebP through libwebp: lossless and lossy round trips, the A1111 UserComment, and
/// broken or oversized files refused with one line naming the file.
@Suite struct CodecWebPTests {
    @Test(arguments: [3, 4]) func losslessRoundTripIsExact(channels: Int) throws {
        let image = CodecFixtures.pattern(width: 37, height: 21, channels: channels, bitDepth: 8)
        let back = try CodecFixtures.roundTrip(image, as: .webp, quality: 100)
        #expect(back.width == 37 && back.height == 21 && back.channels == channels)
        #expect(back.samples == image.samples)
    }

    @Test func lossyRoundTripIsClose() throws {
        let image = CodecFixtures.gradient(width: 64, height: 48, channels: 3)
        let back = try CodecFixtures.roundTrip(image, as: .webp, quality: 90)
        let worst = zip(back.samples, image.samples).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 12 / 255, "\(worst * 255) levels")
    }

    @Test func grayIsWrittenAsRGB() throws {
        let image = CodecFixtures.pattern(width: 8, height: 8, channels: 1, bitDepth: 8)
        let back = try CodecFixtures.roundTrip(image, as: .webp, quality: 100)
        #expect(back.channels == 3)
        #expect((0..<64).allSatisfy { back.samples[$0 * 3 + 1] == image.samples[$0] })
    }

    @Test(arguments: [ImageFormat.jpeg, .webp]) func parametersBecomeUserComment(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.\(format.rawValue)")
        let text = "a café, (red:1.2)\nSteps: 20, Seed: 1"
        try ImageFile.write(CodecFixtures.gradient(width: 16, height: 16, channels: 3), to: url, format: format,
                            text: [(key: "parameters", value: text)])
        let bytes = [UInt8](try Data(contentsOf: url))
        let exif = try #require(ExifUserComment.exif(text))
        #expect(bytes.firstRange(of: exif) != nil, "the EXIF block is embedded as built")
        #expect(ExifUserComment.text(in: exif) == text)
        _ = try ImageFile.read(url)
    }

    @Test func userCommentIsUnicodePrefixedUTF16BigEndian() throws {
        let exif = try #require(ExifUserComment.exif("é"))
        #expect(Array(exif.suffix(10)) == Array("UNICODE\0".utf8) + [0x00, 0xE9])
    }

    @Test func magicIdentifiesWebP() {
        #expect(ImageFormat(magic: Array("RIFF\u{1}\0\0\0WEBP".utf8)) == .webp)
        #expect(ImageFormat(magic: Array("RIFF\u{1}\0\0\0WAVE".utf8)) == nil)
        #expect(ImageFormat(pathExtension: "WebP") == .webp)
    }

    @Test func brokenFilesFailWithOneLine() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.webp")
        try ImageFile.write(CodecFixtures.gradient(width: 40, height: 30, channels: 3), to: good, format: .webp, quality: 80)
        let bytes = [UInt8](try Data(contentsOf: good))
        for length in [12, 20, 30, bytes.count / 2, bytes.count - 4] {
            let url = try CodecBadInputTests.write(Array(bytes.prefix(length)), "cut\(length).webp", in: folder)
            CodecBadInputTests.expectFailure(url)
        }
        var corrupt = bytes
        for index in 30..<min(60, corrupt.count) { corrupt[index] ^= 0xFF }
        CodecBadInputTests.expectFailure(try CodecBadInputTests.write(corrupt, "corrupt.webp", in: folder))
        let noise = Array("RIFF\u{40}\0\0\0WEBPVP8 ".utf8) + [UInt8](repeating: 0x5A, count: 60)
        CodecBadInputTests.expectFailure(try CodecBadInputTests.write(noise, "noise.webp", in: folder))
    }

    /// A lossless header claiming 16384x16384 (VP8L stores width-1 and height-1 in 14 bits each).
    @Test func hugeClaimedSizeIsTooLarge() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let packed: UInt32 = 16383 | 16383 << 14
        let vp8l: [UInt8] = [0x2F] + (0..<4).map { UInt8(packed >> (8 * $0) & 0xFF) } + [UInt8](repeating: 0, count: 20)
        let chunk = Array("VP8L".utf8) + [UInt8(vp8l.count), 0, 0, 0] + vp8l
        let riff = Array("RIFF".utf8) + [UInt8(chunk.count + 4), 0, 0, 0] + Array("WEBP".utf8) + chunk
        let url = try CodecBadInputTests.write(riff, "huge.webp", in: folder)
        #expect(CodecBadInputTests.expectFailure(url) == .tooLarge(path: url.path, width: 16384, height: 16384,
                                                                   limit: 100_000_000))
    }
}
