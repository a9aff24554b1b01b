import Foundation
import Testing
@testable import Imaging

/// Decoding against files written by Pillow, OpenCV and hand-rolled PNG and BMP encoders
/// (tools/reference/codec_fixtures.py, bmp_fixtures.py); expected samples are the reference's.
@Suite struct CodecDecodeTests {
    @Test func fixtureManifestListsEveryLayout() {
        let files = Set(CodecFixtures.decodeCases().map(\.file))
        #expect(files.count >= 35)
        for name in ["png_palette_trns.png", "png_interlaced_gray16.png", "jpeg_progressive.jpg",
                     "jpeg_orientation6.jpg", "tiff_gray16.tif", "tiff_multipage.tif", "bmp_palette4.bmp",
                     "bmp_rgb565.bmp", "bmp_v4_rgba_topdown.bmp"] {
            #expect(files.contains(name), "decode.json lacks \(name)")
        }
    }

    @Test(arguments: CodecFixtures.decodeCases())
    func decodesFixture(_ fixture: CodecFixtures.DecodeCase) throws {
        let image = try ImageFile.read(CodecFixtures.url(fixture.file))
        #expect(image.width == fixture.width)
        #expect(image.height == fixture.height)
        #expect(image.channels == fixture.channels)
        #expect(image.bitDepth == fixture.bitDepth)
        let expected = try CodecFixtures.expectedSamples(fixture.expected, bitDepth: fixture.bitDepth)
        let actual = CodecFixtures.levels(image, bitDepth: fixture.bitDepth)
        try #require(actual.count == expected.count)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= fixture.tolerance, "largest difference \(worst) levels")
        #expect(image.samples.allSatisfy { (0...1).contains($0) })
    }

    @Test func exifOrientationsSwapAxesFromFiveOn() throws {
        for orientation in 1...8 {
            let image = try ImageFile.read(CodecFixtures.url("jpeg_orientation\(orientation).jpg"))
            let expected = orientation >= 5 ? (4, 8) : (8, 4)
            #expect(image.width == expected.0 && image.height == expected.1, "orientation \(orientation)")
        }
    }

    @Test func cmykJpegIsRefusedClearly() throws {
        let url = CodecFixtures.url("jpeg_cmyk.jpg")
        let error = try #require(throws: ImagingError.self) { try ImageFile.read(url) }
        guard case .unsupported = error else {
            Issue.record("expected .unsupported, got \(error)")
            return
        }
        let message = error.localizedDescription
        #expect(message.contains("CMYK"))
        #expect(message.contains(url.path))
    }

    @Test func pillowTextChunksAreRead() throws {
        let expected = try JSONDecoder().decode([String: String].self, from: CodecFixtures.data("png_text.json"))
        let chunks = try ImageFile.readTextChunks(CodecFixtures.url("png_text.png"))
        #expect(chunks == expected)
        #expect(chunks["parameters"]?.hasPrefix("a photo of a cat\nNegative prompt: blurry") == true)
    }

    @Test func textChunksOfOtherFormatsAreRefused() {
        #expect(throws: ImagingError.self) { try ImageFile.readTextChunks(CodecFixtures.url("jpeg_rgb.jpg")) }
    }

    /// The codecs keep no global state (libtiff errors go to per-handle handlers), so
    /// decoding on many threads at once gives what decoding alone gives.
    @Test func concurrentDecodesAgree() throws {
        let names = CodecFixtures.decodeCases().map(\.file)
        let alone = try names.map { try ImageFile.read(CodecFixtures.url($0)) }
        let results = ConcurrentResults(count: names.count * 4)
        DispatchQueue.concurrentPerform(iterations: names.count * 4) { index in
            results.store(try? ImageFile.read(CodecFixtures.url(names[index % names.count])), at: index)
        }
        for index in 0..<(names.count * 4) {
            #expect(results.value(at: index) == alone[index % names.count], "\(names[index % names.count])")
        }
    }

    @Test func pixelLimitIsApplied() throws {
        let url = CodecFixtures.url("png_rgb8.png")
        #expect(throws: ImagingError.tooLarge(path: url.path, width: 7, height: 5, limit: 34)) {
            try ImageFile.read(url, maxPixels: 34)
        }
        #expect(try ImageFile.read(url, maxPixels: 35).pixelCount == 35)
    }
}

/// Slots written from concurrent iterations, each by exactly one.
final class ConcurrentResults: @unchecked Sendable {
    private var images: [Image?]
    private let lock = NSLock()

    init(count: Int) { images = [Image?](repeating: nil, count: count) }

    func store(_ image: Image?, at index: Int) { lock.withLock { images[index] = image } }

    func value(at index: Int) -> Image? { lock.withLock { images[index] } }
}
