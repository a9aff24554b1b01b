import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

@Suite struct CodecRoundTripTests {
    struct Layout: Sendable, CustomStringConvertible {
        var format: ImageFormat
        var channels: Int
        var bitDepth: Int
        var description: String { "\(format.rawValue) \(channels)ch \(bitDepth)-bit" }
    }

    static let losslessLayouts: [Layout] = [ImageFormat.png, .tiff].flatMap { format in
        [8, 16].flatMap { depth in (1...4).map { Layout(format: format, channels: $0, bitDepth: depth) } }
    }

    @Test(arguments: losslessLayouts)
    func losslessFormatsKeepEverySample(_ layout: Layout) throws {
        let image = CodecFixtures.pattern(width: 9, height: 6, channels: layout.channels, bitDepth: layout.bitDepth)
        #expect(try CodecFixtures.roundTrip(image, as: layout.format) == image)
    }

    @Test func oneByOneImagesRoundTripInEveryFormat() throws {
        let image = Image(width: 1, height: 1, channels: 3, samples: [1, 0, 128 / 255])
        for format in CodecFixtures.writableFormats {
            let decoded = try CodecFixtures.roundTrip(image, as: format, quality: format == .webp ? 100 : 95)
            #expect(decoded.width == 1 && decoded.height == 1 && decoded.channels == 3)
            let tolerance: Float = format == .jpeg ? 3 / 255 : 0
            #expect(zip(decoded.samples, image.samples).allSatisfy { abs($0 - $1) <= tolerance }, "\(format)")
        }
    }

    /// decode -> encode -> decode of the reference-written files gives identical samples.
    @Test func referenceFilesSurviveReencoding() throws {
        let lossless = CodecFixtures.decodeCases().filter { !$0.file.hasSuffix(".jpg") }
        #expect(lossless.count >= 25)
        for fixture in lossless {
            let original = try ImageFile.read(CodecFixtures.url(fixture.file))
            for format in [ImageFormat.png, .tiff] {
                #expect(try CodecFixtures.roundTrip(original, as: format) == original, "\(fixture.file) via \(format)")
            }
        }
    }

    @Test func sixteenBitCanBeWrittenAsEightAndBack() throws {
        let image = CodecFixtures.pattern(width: 5, height: 4, channels: 3, bitDepth: 16)
        let decoded = try CodecFixtures.roundTrip(image, as: .png, bitDepth: 8)
        #expect(decoded.bitDepth == 8)
        // round(v * 255), independently: the 16-bit level times 255/65535.
        let expected = CodecFixtures.levels(image, bitDepth: 16).map { Int((Double($0) * 255 / 65535).rounded()) }
        #expect(CodecFixtures.levels(decoded, bitDepth: 8) == expected)
    }

    @Test func outOfRangeAndNaNSamplesAreClamped() throws {
        let image = Image(width: 4, height: 1, channels: 1, samples: [-0.5, 1.5, .nan, 0.5])
        #expect(CodecFixtures.levels(try CodecFixtures.roundTrip(image, as: .png), bitDepth: 8) == [0, 255, 0, 128])
    }

    @Test(arguments: [1, 2, 3, 4])
    func jpegDropsAlphaAndStaysClose(channels: Int) throws {
        var image = CodecFixtures.gradient(width: 32, height: 24, channels: channels)
        image.bitDepth = 16
        let decoded = try CodecFixtures.roundTrip(image, as: .jpeg, quality: 95)
        #expect(decoded.channels == image.colorChannels)
        #expect(decoded.bitDepth == 8)
        var squaredError: Float = 0
        for pixel in 0..<image.pixelCount {
            for channel in 0..<decoded.channels {
                let difference = decoded.samples[pixel * decoded.channels + channel]
                    - image.samples[pixel * image.channels + channel]
                squaredError += difference * difference
            }
        }
        let psnr = peakSignalToNoiseRatio(squaredError: Double(squaredError), count: image.pixelCount * decoded.channels)
        #expect(psnr > 38, "PSNR \(psnr) dB")
    }

    @Test func jpegQualityChangesTheFile() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = CodecFixtures.pattern(width: 32, height: 32, channels: 3, bitDepth: 8)
        let low = folder.appendingPathComponent("low.jpg"), high = folder.appendingPathComponent("high.jpg")
        try ImageFile.write(image, to: low, format: .jpeg, quality: 10)
        try ImageFile.write(image, to: high, format: .jpeg, quality: 100)
        let lowSize = try FileManager.default.attributesOfItem(atPath: low.path)[.size] as? Int ?? 0
        let highSize = try FileManager.default.attributesOfItem(atPath: high.path)[.size] as? Int ?? 0
        #expect(lowSize > 0 && lowSize * 2 < highSize)
    }

    @Test func textChunksRoundTripAsTextOrInternationalText() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("tagged.png")
        let parameters = "a watercolor painting\nNegative prompt: \nSteps: 30, Sampler: DDIM, CFG scale: 7.5, Seed: 42"
        let text: [(key: String, value: String)] = [
            ("parameters", parameters), ("Comment", "café crème"), ("Title", "日本語 ✓"), ("Empty", ""),
        ]
        try ImageFile.write(CodecFixtures.pattern(width: 3, height: 2, channels: 3, bitDepth: 8), to: url,
                            format: .png, text: text)
        let chunks = try ImageFile.readTextChunks(url)
        #expect(chunks == ["parameters": parameters, "Comment": "café crème", "Title": "日本語 ✓", "Empty": ""])
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Self.contains(bytes, Array("tEXtparameters\0".utf8)))
        #expect(Self.contains(bytes, Array("tEXtComment\0".utf8) + [0x63, 0x61, 0x66, 0xE9]))  // Latin-1 é
        #expect(Self.contains(bytes, Array("iTXtTitle\0".utf8)))
        // Text precedes the pixels, so readers that stop at IDAT still see it.
        #expect(Self.index(of: Array("tEXtparameters".utf8), in: bytes) ?? .max
            < Self.index(of: Array("IDAT".utf8), in: bytes) ?? 0)
        // Pillow writes the same layout; its own reader agrees (see CodecDecodeTests).
    }

    @Test func invalidTextKeywordsAreRefused() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bad.png")
        let image = CodecFixtures.pattern(width: 2, height: 2, channels: 1, bitDepth: 8)
        for key in ["", String(repeating: "k", count: 80), "snow☃man"] {
            #expect(throws: ImagingError.self) { try ImageFile.write(image, to: url, format: .png, text: [(key, "v")]) }
        }
    }

    static func index(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool { index(of: needle, in: haystack) != nil }
}
