import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// A corpus of broken files, built here, that must each fail with a one-line message
/// naming the file, never crash.
@Suite struct CodecBadInputTests {
    /// Reads `url`, expecting an ImagingError whose message names the path on one line.
    @discardableResult
    static func expectFailure(_ url: URL, maxPixels: Int = 100_000_000,
                              sourceLocation: SourceLocation = #_sourceLocation) -> ImagingError? {
        do {
            let image = try ImageFile.read(url, maxPixels: maxPixels)
            Issue.record("\(url.lastPathComponent) decoded as \(image.width)x\(image.height)", sourceLocation: sourceLocation)
            return nil
        } catch let error as ImagingError {
            let message = error.localizedDescription
            #expect(message.contains(url.path), "\(message)", sourceLocation: sourceLocation)
            let lines = message.split(whereSeparator: \.isNewline).count
            #expect(lines == 1, "\(message)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("not an ImagingError: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    static func write(_ bytes: [UInt8], _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    @Test func emptyFileIsUnreadable() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Self.expectFailure(try Self.write([], "empty.png", in: folder))
        #expect(error?.localizedDescription.contains("empty") == true)
    }

    @Test func textFileNamedPngIsNotAPng() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try Self.write(Array("just some notes\n".utf8), "notes.png", in: folder)
        #expect(Self.expectFailure(url)?.localizedDescription.contains("not a PNG file") == true)
        let other = try Self.write(Array("just some notes\n".utf8), "notes.txt", in: folder)
        #expect(Self.expectFailure(other)?.localizedDescription.contains("not a PNG, JPEG, TIFF, WebP, BMP, HEIF or AVIF file") == true)
        #expect(throws: ImagingError.self) { try ImageFile.readTextChunks(url) }
    }

    @Test func missingFileAndFolderAreUnreadable() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        Self.expectFailure(folder.appendingPathComponent("absent.png"))
        Self.expectFailure(folder)
    }

    @Test(arguments: ["png_rgb8.png", "png_interlaced_rgba8.png", "jpeg_rgb.jpg", "jpeg_progressive.jpg",
                      "tiff_rgb8.tif", "tiff_gray16.tif", "tiff_rgba8.tif", "bmp_rgb24.bmp", "bmp_palette8.bmp",
                      "bmp_v4_rgba_topdown.bmp"])
    func truncatedFilesFail(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = [UInt8](try CodecFixtures.data(name))
        // Cut inside the header, and inside the pixel data (PNG: before the trailing IEND chunk).
        for length in [4, 9, 30, bytes.count / 2, bytes.count - 24] {
            let url = try Self.write(Array(bytes.prefix(length)), "cut\(length)-\(name)", in: folder)
            let error = Self.expectFailure(url)
            if case .tooLarge = error { Issue.record("\(length) bytes of \(name): \(String(describing: error))") }
        }
    }

    @Test func garbageAfterValidMagicFails() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        Self.expectFailure(try Self.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + noise, "noise.png", in: folder))
        Self.expectFailure(try Self.write([0xFF, 0xD8, 0xFF] + noise, "noise.jpg", in: folder))
        Self.expectFailure(try Self.write(Array("II*\0".utf8) + noise, "noise.tif", in: folder))
        Self.expectFailure(try Self.write(Array("MM\0*".utf8) + [0xFF, 0xFF, 0xFF, 0x00] + noise, "far.tif", in: folder))
        Self.expectFailure(try Self.write(Array(BMPBytes.file(width: 4, height: 4).prefix(18)) + noise, "noise.bmp", in: folder))
    }

    @Test func pngClaimingTenBillionPixelsIsTooLargeBeforeDecoding() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try Self.write(PNGBytes.file(width: 100_000, height: 100_000), "huge.png", in: folder)
        let error = Self.expectFailure(url)
        #expect(error == .tooLarge(path: url.path, width: 100_000, height: 100_000, limit: 100_000_000))
    }

    @Test func jpegClaimingHugeDimensionsIsTooLarge() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var bytes = [UInt8](try CodecFixtures.data("jpeg_rgb.jpg"))
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        let sof = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])  // 60000 x 60000
        let url = try Self.write(bytes, "huge.jpg", in: folder)
        #expect(Self.expectFailure(url) == .tooLarge(path: url.path, width: 60_000, height: 60_000, limit: 100_000_000))
    }

    @Test func zeroSizedPngIsUnreadable() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Self.expectFailure(try Self.write(PNGBytes.file(width: 0, height: 0), "zero.png", in: folder))
        guard case .unreadable = error else {
            Issue.record("expected .unreadable, got \(String(describing: error))")
            return
        }
    }

    @Test func writeIntoMissingFolderFailsNamingThePath() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = CodecFixtures.pattern(width: 2, height: 2, channels: 3, bitDepth: 8)
        for format in CodecFixtures.writableFormats {
            let url = folder.appendingPathComponent("missing/out.\(format.rawValue)")
            do {
                try ImageFile.write(image, to: url, format: format)
                Issue.record("wrote \(url.path)")
            } catch let error as ImagingError {
                let message = error.localizedDescription
                let lines = message.split(whereSeparator: \.isNewline).count
                #expect(message.contains(url.path))
                #expect(lines == 1, "\(message)")
            }
        }
        #expect(throws: ImagingError.self) {
            try ImageFile.write(image, to: folder.appendingPathComponent("q.jpg"), format: .jpeg, quality: 0)
        }
        #expect(throws: ImagingError.self) {
            try ImageFile.write(image, to: folder.appendingPathComponent("d.png"), format: .png, bitDepth: 12)
        }
    }
}
