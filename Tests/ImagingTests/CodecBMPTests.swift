import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// BMP through stb_image: the layouts of tools/reference/bmp_fixtures.py decode in
/// CodecDecodeTests (bmp_decode.json); here, what is told apart, refused and never written.
@Suite struct CodecBMPTests {
    static func failure(_ bytes: [UInt8], _ name: String) throws -> ImagingError? {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        return CodecBadInputTests.expectFailure(try CodecBadInputTests.write(bytes, name, in: folder))
    }

    @Test func aBitmapIsToldByItsHeaderNotByBMAlone() throws {
        for name in ["bmp_rgb24.bmp", "bmp_os2_rgb24.bmp", "bmp_v4_rgba_topdown.bmp", "bmp_v5_rgb24.bmp"] {
            #expect(ImageFormat(magic: [UInt8](try CodecFixtures.data(name))) == .bmp, "\(name)")
        }
        #expect(ImageFormat(magic: Array("BMW service notes, 2024".utf8)) == nil)
        #expect(ImageFormat(magic: BMPBytes.file(width: 2, height: 2).prefix(17)) == nil, "cut before the header size")
        #expect(ImageFormat(pathExtension: "BMP") == .bmp)
    }

    /// The content decides: a bitmap named .png is read as a bitmap.
    @Test func aBitmapNamedPNGIsReadAsABitmap() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try CodecBadInputTests.write([UInt8](try CodecFixtures.data("bmp_rgb24.bmp")), "photo.png", in: folder)
        #expect(try ImageFile.read(url) == ImageFile.read(CodecFixtures.url("bmp_rgb24.bmp")))
    }

    @Test func aBitmapCarriesNoMetadata() throws {
        let metadata = try ImageFile.readWithMetadata(CodecFixtures.url("bmp_v5_rgb24.bmp")).metadata
        #expect(metadata == .none)
    }

    @Test(arguments: [(UInt32(1), 8, "RLE-compressed BMP images are not supported"), (2, 4, "RLE-compressed"),
                      (4, 24, "BMP compression 4 is not supported"), (6, 32, "BMP compression 6 is not supported")])
    func compressedBitmapsAreRefusedNamingTheCompression(compression: UInt32, bits: Int, reason: String) throws {
        let bytes = BMPBytes.file(width: 4, height: 4, bits: UInt16(bits), compression: compression,
                                  palette: bits <= 8 ? 2 : 0)
        guard case .unsupported(_, let message) = try Self.failure(bytes, "compressed.bmp") else {
            Issue.record("not refused as unsupported")
            return
        }
        #expect(message.contains(reason), "\(message)")
    }

    /// Layouts stb_image would misread are refused, not decoded to wrong colours.
    @Test func layoutsStbImageMisreadsAreRefused() throws {
        for bits in [2, 48, 64] {
            let error = try Self.failure(BMPBytes.file(width: 4, height: 4, bits: UInt16(bits), palette: bits == 2 ? 4 : 0),
                                         "deep-\(bits).bmp")
            guard case .unsupported(_, let reason) = error else {
                Issue.record("\(bits)-bit: \(String(describing: error))")
                continue
            }
            #expect(reason.contains("\(bits)-bit BMP images are not supported"))
        }
        let os2 = try Self.failure(BMPBytes.os2(width: 4, height: 4, bits: 8, palette: 256), "os2.bmp")
        #expect(os2?.localizedDescription.contains("OS/2 1.x BMP images with a palette are not supported") == true)
    }

    @Test func aPixelOffsetInsideTheHeadersIsCorrupt() throws {
        let error = try Self.failure(BMPBytes.file(width: 4, height: 4, bits: 8, palette: 2, pixelOffset: 0), "offset.bmp")
        #expect(error?.localizedDescription.contains("the pixel data offset 0 lies inside the 54 bytes of headers") == true,
                "\(String(describing: error))")
    }

    /// stb_image reads zeros past a file's end; the rows must be there before it decodes.
    @Test func missingRowsAreTruncationNotBlackPixels() throws {
        let whole = BMPBytes.file(width: 5, height: 3)
        let error = try Self.failure(Array(whole.dropLast(1)), "short.bmp")
        #expect(error?.localizedDescription.contains("corrupt or truncated BMP data (truncated: the pixel rows end at byte 102 of a 101-byte file)") == true,
                "\(String(describing: error))")
    }

    @Test func oddDimensionsAreRefused() throws {
        let tooLarge = try Self.failure(BMPBytes.file(width: 100_000, height: 100_000, data: []), "huge.bmp")
        if case .tooLarge(_, let width, let height, _) = tooLarge {
            #expect(width == 100_000 && height == 100_000)
        } else {
            Issue.record("\(String(describing: tooLarge))")
        }
        let topDown = try Self.failure(BMPBytes.file(width: 100_000, height: -100_000, data: []), "huge-top-down.bmp")
        if case .tooLarge(_, _, let height, _) = topDown { #expect(height == 100_000) } else { Issue.record("\(String(describing: topDown))") }
        #expect(try Self.failure(BMPBytes.file(width: 4, height: .min, data: []), "min.bmp")?.localizedDescription
            .contains("out of range") == true)
        #expect(try Self.failure(BMPBytes.file(width: 0, height: 4), "empty.bmp")?.localizedDescription
            .contains("no pixels") == true)
    }

    @Test func bitmapsAreReadNotWritten() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.bmp")
        let image = CodecFixtures.pattern(width: 2, height: 2, channels: 3, bitDepth: 8)
        #expect(throws: ImagingError.writeFailed(
            path: url.path, reason: "BMP images are read, not written (write PNG, JPEG, TIFF or WebP)")) {
            try ImageFile.write(image, to: url, format: .bmp)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

/// Hand-built BMP files, for headers no encoder writes.
enum BMPBytes {
    /// A file header and a BITMAPINFOHEADER claiming `width` x `height` at `bits` a pixel, a
    /// gray palette of `palette` entries, then `data` (by default the rows the header implies,
    /// a pattern) at `pixelOffset` (by default right after the headers).
    static func file(width: Int32, height: Int32, bits: UInt16 = 24, compression: UInt32 = 0, palette: Int = 0,
                     pixelOffset: UInt32? = nil, data: [UInt8]? = nil) -> [UInt8] {
        let header = little32(40) + little32(UInt32(bitPattern: width)) + little32(UInt32(bitPattern: height))
            + little16(1) + little16(bits) + little32(compression) + little32(0) + little32(2835) + little32(2835)
            + little32(UInt32(palette)) + little32(0)
        let entries = (0..<palette).flatMap { index -> [UInt8] in
            let level = UInt8(index * 255 / max(palette - 1, 1))
            return [level, level, level, 0]
        }
        return assembled(header + entries, bits: bits, width: width, height: height, pixelOffset: pixelOffset, data: data)
    }

    /// An OS/2 1.x file: a 12-byte header with 16-bit sizes, and 3-byte palette entries.
    static func os2(width: UInt16, height: UInt16, bits: UInt16, palette: Int) -> [UInt8] {
        let header = little32(12) + little16(width) + little16(height) + little16(1) + little16(bits)
        let entries = (0..<palette).flatMap { index in [UInt8(index % 256), UInt8(index % 256), UInt8(index % 256)] }
        return assembled(header + entries, bits: bits, width: Int32(width), height: Int32(height), pixelOffset: nil, data: nil)
    }

    private static func assembled(_ headers: [UInt8], bits: UInt16, width: Int32, height: Int32, pixelOffset: UInt32?,
                                  data: [UInt8]?) -> [UInt8] {
        let rowBytes = (Int(width) * Int(bits) + 31) / 32 * 4
        let pixels = data ?? (0..<(rowBytes * Int(height.magnitude))).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let offset = pixelOffset ?? UInt32(14 + headers.count)
        let fileHeader = Array("BM".utf8) + little32(UInt32(14 + headers.count + pixels.count)) + little32(0) + little32(offset)
        return fileHeader + headers + pixels
    }

    static func little16(_ value: UInt16) -> [UInt8] { TIFFBytes.little16(value) }
    static func little32(_ value: UInt32) -> [UInt8] { TIFFBytes.little32(value) }
}
