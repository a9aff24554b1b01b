import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// Decompression bombs, crafted here: headers claiming huge images, with and without data,
/// and files within the pixel limit whose layout would make a codec library allocate far
/// more than the image. Each is refused with one line naming the file, within a second,
/// while the decoding process's peak memory grows by less than 100 MB.
@Suite struct CodecBombTests {
    static let memoryAllowance = 100 << 20
    static let overhead = 4 << 20

    struct Bomb: CustomStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var description: String { name }
    }

    static let pngBombs: [Bomb] = [
        Bomb(name: "gray-500000000x1.png", bytes: PNGBytes.file(width: 500_000_000, height: 1, colorType: 0)),
        Bomb(name: "rgb-2147483647x48.png", bytes: PNGBytes.file(width: 2_147_483_647, height: 48)),
        Bomb(name: "rgba-65535x65535.png", bytes: PNGBytes.file(width: 65535, height: 65535, colorType: 6)),
        Bomb(name: "rgba16-2147483647x2147483647.png",
             bytes: PNGBytes.file(width: 2_147_483_647, height: 2_147_483_647, bitDepth: 16, colorType: 6)),
        Bomb(name: "gray16-100000x100000-no-data.png",
             bytes: PNGBytes.file(width: 100_000, height: 100_000, bitDepth: 16, colorType: 0, imageData: false)),
        Bomb(name: "rgba-2147483647x1-no-data.png",
             bytes: PNGBytes.file(width: 2_147_483_647, height: 1, colorType: 6, imageData: false)),
        // Within 100 megapixels, but libpng's two rows alone would be 1.6 GB.
        Bomb(name: "rgba16-100000000x1.png", bytes: PNGBytes.file(width: 100_000_000, height: 1, bitDepth: 16, colorType: 6)),
    ]

    static let tiffBombs: [Bomb] = [
        Bomb(name: "strips-65536x32768.tif", bytes: TIFFBytes.gray(width: 65536, height: 32768, rowsPerStrip: 1)),
        Bomb(name: "one-strip-65536x32768.tif",
             bytes: TIFFBytes.gray(width: 65536, height: 32768, rowsPerStrip: 32768, stripBytes: 1 << 31)),
        // 2^31 - 1 strips and no StripByteCounts: libtiff would estimate 16 GB of them.
        Bomb(name: "no-byte-counts-1x2147483647.tif",
             bytes: TIFFBytes.gray(width: 1, height: 2_147_483_647, rowsPerStrip: 1, stripBytes: nil)),
        // 16 megapixels, but 1000 samples a pixel: a 16 GB strip.
        Bomb(name: "samples-4000x4000.tif", bytes: TIFFBytes.manySamples(width: 4000, height: 4000, samples: 1000)),
        // One pixel in one 65536x65536 tile.
        Bomb(name: "tile-1x1.tif", bytes: TIFFBytes.hugeTile()),
    ]

    static let bmpBombs: [Bomb] = [
        Bomb(name: "huge-100000x100000.bmp", bytes: BMPBytes.file(width: 100_000, height: 100_000, data: [])),
        Bomb(name: "huge-2147483647x1.bmp", bytes: BMPBytes.file(width: .max, height: 1, bits: 32, data: [])),
        Bomb(name: "top-down-65536x-65536.bmp", bytes: BMPBytes.file(width: 65536, height: -65536, data: [])),
        // Within 100 megapixels, but a few bytes where 300 MB of rows should be: stb_image
        // would read them as zeros, through the whole image.
        Bomb(name: "rows-missing-10000x9999.bmp", bytes: BMPBytes.file(width: 10000, height: 9999, data: [0, 0, 0, 0])),
    ]

    static var jpegBombs: [Bomb] {
        get throws {
            let baseline = try JPEGBytes.claiming(width: 65500, height: 65500, from: "jpeg_rgb.jpg")
            let progressive = try JPEGBytes.claiming(width: 65500, height: 65500, from: "jpeg_progressive.jpg")
            return [
                Bomb(name: "baseline-65500x65500.jpg", bytes: baseline),
                Bomb(name: "progressive-65500x65500.jpg", bytes: progressive),
                Bomb(name: "header-only-65500x65500.jpg", bytes: try JPEGBytes.throughFrameHeader(baseline)),
            ]
        }
    }

    /// HEIF and AVIF fixtures whose ispe boxes claim more: over libheif's per-side limit, at it,
    /// and within it but over the pixel limit.
    static var heifBombs: [Bomb] {
        get throws {
            try [("heif_rgb.heic", 40_000, 40_000), ("heif_rgb.heic", 20_000, 10_000), ("avif_rgb.avif", 32768, 32768),
                 ("avif_rgb.avif", 100_000, 1)].map { fixture, width, height in
                Bomb(name: "\(width)x\(height)-\(fixture)",
                     bytes: try HEIFBytes.claiming(width: UInt32(width), height: UInt32(height), from: fixture))
            }
        }
    }

    /// Runs the read path, failing and succeeding, on small files: in this process before
    /// a fork, for the Swift runtime's type metadata, and in the child before measuring
    /// (see CodecChildProcess.run).
    static func warmUp(_ folder: URL) {
        for name in ["png_rgb8.png", "jpeg_rgb.jpg", "tiff_rgb8.tif", "tiff_bilevel.tif", "heif_rgb.heic", "avif_rgb.avif",
                     "bmp_rgb24.bmp"] {
            _ = CodecChildProcess.readOutcome(CodecFixtures.url(name))
        }
        _ = CodecChildProcess.readOutcome(folder.appendingPathComponent("absent.png"))
    }

    static func expectRefusedCheaply(_ bomb: Bomb, in folder: URL, maxPixels: Int = 100_000_000,
                                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = folder.appendingPathComponent(bomb.name)
        try Data(bomb.bytes).write(to: url)
        warmUp(folder)
        let outcome = CodecChildProcess.run(warmUp: { warmUp(folder) }) {
            CodecChildProcess.readOutcome(url, maxPixels: maxPixels)
        }
        let message = try #require(outcome.text, "\(bomb.name): the decode was killed or died", sourceLocation: sourceLocation)
        #expect(!message.hasPrefix("decoded"), "\(bomb.name): \(message)", sourceLocation: sourceLocation)
        #expect(message.contains(url.path), "\(message)", sourceLocation: sourceLocation)
        #expect(!message.contains("\n"), "\(message)", sourceLocation: sourceLocation)
        #expect(outcome.peakGrowthBytes < memoryAllowance,
                "\(bomb.name): peak memory grew by \(outcome.peakGrowthBytes >> 20) MB", sourceLocation: sourceLocation)
        #expect(outcome.seconds < 1, "\(bomb.name): took \(outcome.seconds) s", sourceLocation: sourceLocation)
    }

    @Test(arguments: pngBombs) func pngBombIsRefusedCheaply(_ bomb: Bomb) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.expectRefusedCheaply(bomb, in: folder)
    }

    @Test(arguments: tiffBombs) func tiffBombIsRefusedCheaply(_ bomb: Bomb) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.expectRefusedCheaply(bomb, in: folder)
    }

    @Test(arguments: bmpBombs) func bmpBombIsRefusedCheaply(_ bomb: Bomb) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.expectRefusedCheaply(bomb, in: folder)
    }

    @Test func jpegBombsAreRefusedCheaply() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for bomb in try Self.jpegBombs { try Self.expectRefusedCheaply(bomb, in: folder) }
    }

    @Test func heifBombsAreRefusedCheaply() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for bomb in try Self.heifBombs { try Self.expectRefusedCheaply(bomb, in: folder) }
    }

    @Test func headerOverTheLimitIsTooLargeEvenWithoutImageData() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = try CodecBadInputTests.write(PNGBytes.file(width: 20_000, height: 10_000, imageData: false), "a.png", in: folder)
        #expect(CodecBadInputTests.expectFailure(png) == .tooLarge(path: png.path, width: 20_000, height: 10_000, limit: 100_000_000))
        let tiff = try CodecBadInputTests.write(TIFFBytes.gray(width: 65536, height: 32768, rowsPerStrip: 1), "a.tif", in: folder)
        #expect(CodecBadInputTests.expectFailure(tiff) == .tooLarge(path: tiff.path, width: 65536, height: 32768, limit: 100_000_000))
        let jpeg = try CodecBadInputTests.write(try Self.jpegBombs[0].bytes, "a.jpg", in: folder)
        #expect(CodecBadInputTests.expectFailure(jpeg, maxPixels: 1000) == .tooLarge(path: jpeg.path, width: 65500, height: 65500, limit: 1000))
    }

    @Test func budgetRefusalSaysWhatItWouldNeed() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try CodecBadInputTests.write(Self.pngBombs.last!.bytes, "wide.png", in: folder)
        let message = CodecBadInputTests.expectFailure(url)?.localizedDescription ?? ""
        #expect(message.contains("allowed for a 100000000x1 image"), "\(message)")
    }

    @Test func hugeLimitsDoNotOverflow() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try CodecBadInputTests.write(PNGBytes.file(width: 2_147_483_647, height: 2_147_483_647, bitDepth: 16,
                                                             colorType: 6, imageData: false), "huge.png", in: folder)
        // Under a limit of Int.max the header is accepted, and the decode fails for want of data.
        #expect(CodecBadInputTests.expectFailure(url, maxPixels: .max) != nil)
    }

    /// Images that are accepted decode within 1.5 times their samples' memory (as floats),
    /// give or take the few MiB that a process's first decode of a size maps for code and
    /// libraries' buffers.
    @Test(arguments: [(ImageFormat.png, 4, 16), (.png, 1, 8), (.jpeg, 3, 8), (.tiff, 3, 16), (.tiff, 2, 8)])
    func acceptedImageDecodesWithinOneAndAHalfTimesItsSize(format: ImageFormat, channels: Int, bitDepth: Int) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("big.\(format.rawValue)")
        try ImageFile.write(CodecFixtures.gradient(width: 1200, height: 1000, channels: channels), to: url,
                            format: format, bitDepth: bitDepth)
        Self.expectDecodedWithinBudget(url, width: 1200, height: 1000, channels: channels, in: folder)
    }

    /// libheif allocates outside the decoders' budget; what it takes must follow the image all the same.
    /// Its AV1 and HEVC decoders keep pools of 8-bit pictures (1.5 bytes a pixel each) whose
    /// fill depends on how their threads were scheduled: 18 to 27 MB for 14 MB of float
    /// samples on two-core machines, even after a warm-up decode. Up to four pool pictures
    /// are allowed beyond the budget of the other codecs, so a bomb still fails by far.
    @Test(arguments: ["heif_large.heic", "avif_large.avif"]) func acceptedHEIFDecodesWithinOneAndAHalfTimesItsSize(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let poolPicture = 1200 * 1000 * 3 / 2
        Self.expectDecodedWithinBudget(CodecFixtures.url(name), width: 1200, height: 1000, channels: 3, in: folder,
                                       warmingUpOnItself: true, codecPool: 4 * poolPicture)
    }

    /// stb_image's 8-bit output beside the floats: a quarter of their size.
    @Test(arguments: [24, 32]) func acceptedBMPDecodesWithinOneAndAHalfTimesItsSize(bits: Int) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try CodecBadInputTests.write(BMPBytes.file(width: 1200, height: 1000, bits: UInt16(bits)), "big.bmp",
                                               in: folder)
        Self.expectDecodedWithinBudget(url, width: 1200, height: 1000, channels: bits / 8, in: folder)
    }

    /// libtiff renders a bilevel image as RGBA words, which used to take a raster of their own.
    @Test func bilevelTiffDecodesWithinOneAndAHalfTimesItsSize() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try CodecBadInputTests.write(TIFFBytes.bilevel(width: 2400, height: 2000), "bilevel.tif", in: folder)
        Self.expectDecodedWithinBudget(url, width: 2400, height: 2000, channels: 1, in: folder)
    }

    /// `warmingUpOnItself`: the child decodes `url` once before the measured decode;
    /// `codecPool`: bytes a codec library holds beyond the decoder's own buffers.
    static func expectDecodedWithinBudget(_ url: URL, width: Int, height: Int, channels: Int, in folder: URL,
                                          warmingUpOnItself: Bool = false, codecPool: Int = 0,
                                          sourceLocation: SourceLocation = #_sourceLocation) {
        warmUp(folder)
        let outcome = CodecChildProcess.run(warmUp: {
            warmUp(folder)
            if warmingUpOnItself { _ = CodecChildProcess.readOutcome(url) }
        }) { CodecChildProcess.readOutcome(url) }
        let decoded = width * height * channels * MemoryLayout<Float>.size
        #expect(outcome.text == "decoded \(width)x\(height)", sourceLocation: sourceLocation)
        #expect(outcome.peakGrowthBytes < decoded * 3 / 2 + codecPool + overhead,
                "peak grew by \(outcome.peakGrowthBytes >> 10) KiB for \(decoded >> 10) KiB of samples",
                sourceLocation: sourceLocation)
    }
}

/// Hand-built little-endian TIFF files, one directory, for headers no encoder writes.
enum TIFFBytes {
    struct Entry {
        var tag: UInt16
        var type: UInt16  // 3 SHORT, 4 LONG
        var count: UInt32
        var value: UInt32
    }

    static func short(_ tag: UInt16, _ value: UInt32) -> Entry { Entry(tag: tag, type: 3, count: 1, value: value) }
    static func long(_ tag: UInt16, _ value: UInt32) -> Entry { Entry(tag: tag, type: 4, count: 1, value: value) }

    /// Where data placed after a directory of `entryCount` entries starts.
    static func dataOffset(entryCount: Int) -> UInt32 { UInt32(8 + 2 + entryCount * 12 + 4) }

    /// The directory's `entries` (sorted here), then `data` at `dataOffset(entryCount:)`.
    static func file(_ entries: [Entry], data: [UInt8] = [UInt8](repeating: 0, count: 16)) -> [UInt8] {
        var bytes: [UInt8] = Array("II".utf8) + little16(42) + little32(8) + little16(UInt16(entries.count))
        for entry in entries.sorted(by: { $0.tag < $1.tag }) {
            bytes += little16(entry.tag) + little16(entry.type) + little32(entry.count) + little32(entry.value)
        }
        return bytes + little32(0) + data
    }

    /// 8-bit gray in strips of `rowsPerStrip` rows; one StripOffsets entry, and a
    /// StripByteCounts entry of `stripBytes` unless nil.
    static func gray(width: UInt32, height: UInt32, rowsPerStrip: UInt32, stripBytes: UInt32? = 16) -> [UInt8] {
        let offset = dataOffset(entryCount: stripBytes == nil ? 8 : 9)
        var entries = [long(256, width), long(257, height), short(258, 8), short(259, 1), short(262, 1),
                       long(273, offset), short(277, 1), long(278, rowsPerStrip)]
        if let stripBytes { entries.append(long(279, stripBytes)) }
        return file(entries)
    }

    /// RGB with `samples - 3` extra samples, deflated, in one strip: decoding it takes a
    /// buffer of the whole strip.
    static func manySamples(width: UInt32, height: UInt32, samples: UInt32) -> [UInt8] {
        file([long(256, width), long(257, height), short(258, 8), short(259, 8), short(262, 2),
              long(273, dataOffset(entryCount: 10)), short(277, samples), long(278, height), long(279, 16),
              short(338, 0)])
    }

    /// One 8-bit gray pixel in a single deflated 65536x65536 tile.
    static func hugeTile() -> [UInt8] {
        file([long(256, 1), long(257, 1), short(258, 8), short(259, 8), short(262, 1), short(277, 1),
              long(322, 65536), long(323, 65536), long(324, dataOffset(entryCount: 10)), long(325, 16)])
    }

    /// A 1-bit black-is-zero image in one uncompressed strip, striped in columns.
    static func bilevel(width: UInt32, height: UInt32) -> [UInt8] {
        let rowBytes = (width + 7) / 8
        return file([long(256, width), long(257, height), short(258, 1), short(259, 1), short(262, 1),
                     long(273, dataOffset(entryCount: 9)), short(277, 1), long(278, height), long(279, rowBytes * height)],
                    data: [UInt8](repeating: 0x55, count: Int(rowBytes * height)))
    }

    static func little16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func little32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
}

/// JPEG fixtures with their frame header rewritten.
enum JPEGBytes {
    /// Offset of the first SOF0 (baseline) or SOF2 (progressive) marker.
    static func frameHeader(_ bytes: [UInt8]) throws -> Int {
        try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && (bytes[$0 + 1] == 0xC0 || bytes[$0 + 1] == 0xC2) })
    }

    static func claiming(width: UInt16, height: UInt16, from fixture: String) throws -> [UInt8] {
        var bytes = [UInt8](try CodecFixtures.data(fixture))
        // SOFn: FF Cn, length (2), precision (1), height (2), width (2).
        let sof = try frameHeader(bytes)
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [UInt8(height >> 8), UInt8(height & 0xFF),
                                                              UInt8(width >> 8), UInt8(width & 0xFF)])
        return bytes
    }

    /// Everything up to the end of the frame header: no scan follows.
    static func throughFrameHeader(_ bytes: [UInt8]) throws -> [UInt8] {
        let sof = try frameHeader(bytes)
        let length = Int(bytes[sof + 2]) << 8 | Int(bytes[sof + 3])
        return Array(bytes.prefix(sof + 2 + length))
    }
}
