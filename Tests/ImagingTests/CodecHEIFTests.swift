import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// HEIC and AVIF through libheif, from the fixtures of tools/reference/heif_fixtures.py: lossy
/// decodes close to their sources, alpha, 10-bit samples, a phone's rotation and metadata, and
/// broken or oversized files refused with one line naming the file.
@Suite struct CodecHEIFTests {
    static let rgbFiles = ["heif_rgb.heic", "avif_rgb.avif"]
    static let cameraFiles = ["heif_camera.heic", "avif_camera.avif"]

    @Test(arguments: rgbFiles) func decodesCloseToItsSource(name: String) throws {
        let image = try ImageFile.read(CodecFixtures.url(name))
        let source = try ImageFile.read(CodecFixtures.url("heif_source.png"))
        #expect(image.width == 64 && image.height == 48 && image.channels == 3 && image.bitDepth == 8)
        #expect(peakSignalToNoiseRatio(image, source) >= 30, "\(peakSignalToNoiseRatio(image, source)) dB")
    }

    @Test(arguments: ["heif_rgba.heic", "avif_rgba.avif"]) func alphaIsAFourthChannel(name: String) throws {
        let image = try ImageFile.read(CodecFixtures.url(name))
        let source = try ImageFile.read(CodecFixtures.url("heif_source_rgba.png"))
        #expect(image.channels == 4)
        #expect(peakSignalToNoiseRatio(image, source) >= 30, "\(peakSignalToNoiseRatio(image, source)) dB")
        #expect(image[0, 0, 3] > 0.95 && image[63, 0, 3] < 0.05, "opaque on the left, clear on the right")
    }

    /// 10-bit images come as 16-bit samples holding the 10-bit levels, finer than 8 bits hold.
    @Test(arguments: ["heif_rgb10.heic", "avif_rgb10.avif"]) func tenBitImagesKeepTheirPrecision(name: String) throws {
        let image = try ImageFile.read(CodecFixtures.url(name))
        let source = try ImageFile.read(CodecFixtures.url("heif_source16.png"))
        #expect(image.bitDepth == 16 && image.channels == 3)
        #expect(peakSignalToNoiseRatio(image, source) >= 30, "\(peakSignalToNoiseRatio(image, source)) dB")
        func onGrid(_ levels: Float) -> Bool {
            image.samples.allSatisfy { abs($0 * levels - ($0 * levels).rounded()) < 1e-3 }
        }
        #expect(onGrid(1023) && !onGrid(255))
    }

    /// As a phone writes it: pixels stored 64x48 with an irot of 270 degrees anti-clockwise, and
    /// the camera's EXIF saying Orientation 6. libheif turns the pixels; nothing turns them again.
    @Test(arguments: cameraFiles) func aPhonesRotationComesOutUpright(name: String) throws {
        let (image, metadata) = try ImageFile.readWithMetadata(CodecFixtures.url(name))
        let jpeg = try ImageFile.readWithMetadata(CodecFixtures.url("heif_camera.jpg"))
        #expect(image.width == 48 && image.height == 64)
        #expect(peakSignalToNoiseRatio(image, jpeg.image) >= 30, "the JPEG turned by its EXIF: \(peakSignalToNoiseRatio(image, jpeg.image)) dB")
        #expect(metadata.orientationApplied)
        #expect(metadata.iccProfile == jpeg.metadata.iccProfile, "the profile heif-enc took from the JPEG")
        let fields = try #require(metadata.exif.flatMap(ExifFields.init))
        #expect(fields.integer(0x0112) == 6)
        #expect(fields.string(0x010F) == "Overpaint Test Camera" && fields.string(0x0110) == "TC-1")
    }

    @Test(arguments: cameraFiles) func keepCarriesTheEXIFAndProfileIntoAJPEG(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, metadata) = try ImageFile.readWithMetadata(CodecFixtures.url(name))
        let url = folder.appendingPathComponent("edited.jpg")
        try ImageFile.write(image, to: url, format: .jpeg, text: [("parameters", "a lighthouse")], metadata: metadata)

        let written = try ImageFile.readWithMetadata(url)
        #expect(written.image.width == 48 && written.image.height == 64, "not turned again when read")
        #expect(written.metadata.iccProfile == metadata.iccProfile)
        let fields = try #require(written.metadata.exif.flatMap(ExifFields.init))
        #expect(fields.integer(0x0112) == 1, "the pixels were turned on reading")
        #expect(fields.string(0x010F) == "Overpaint Test Camera" && fields.string(0x0110) == "TC-1")
        #expect(fields.integer(0xA002, in: .exif) == 48 && fields.integer(0xA003, in: .exif) == 64)
        #expect(written.metadata.exif.flatMap(ExifUserComment.text) == "a lighthouse")
    }

    /// Nothing to carry; the pixels count as upright all the same (libheif applies irot / imir).
    @Test(arguments: rgbFiles) func withoutEXIFThereIsNothingToCarry(name: String) throws {
        let metadata = try ImageFile.readWithMetadata(CodecFixtures.url(name)).metadata
        #expect(metadata.exif == nil && metadata.iccProfile == nil && metadata.xmp == nil && metadata.orientationApplied)
    }

    @Test func ftypBrandsAndExtensionsNameTheFormats() {
        func box(_ brand: String) -> [UInt8] { [0, 0, 0, 0x18] + Array("ftyp\(brand)".utf8) }
        for brand in ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"] {
            #expect(ImageFormat(magic: box(brand)) == .heif, "\(brand)")
        }
        #expect(ImageFormat(magic: box("avif")) == .avif && ImageFormat(magic: box("avis")) == .avif)
        for video in ["isom", "mp42", "qt  ", "jp2 "] { #expect(ImageFormat(magic: box(video)) == nil, "\(video)") }
        #expect(ImageFormat(magic: Array(box("heic").prefix(11))) == nil)
        for (name, format) in [("heic", ImageFormat.heif), ("HEIF", .heif), ("hif", .heif), ("AVIF", .avif)] {
            #expect(ImageFormat(pathExtension: name) == format)
        }
    }

    /// The content decides, as for the other formats: a PNG named .heic is a PNG, a HEIC named .jpg a HEIC.
    @Test func magicBytesOutweighTheExtension() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = folder.appendingPathComponent("photo.heic")
        try FileManager.default.copyItem(at: CodecFixtures.url("png_rgb8.png"), to: png)
        #expect(try ImageFile.read(png) == ImageFile.read(CodecFixtures.url("png_rgb8.png")))
        let heic = folder.appendingPathComponent("photo.jpg")
        try FileManager.default.copyItem(at: CodecFixtures.url("heif_rgb.heic"), to: heic)
        #expect(try ImageFile.read(heic) == ImageFile.read(CodecFixtures.url("heif_rgb.heic")))
    }

    @Test(arguments: [ImageFormat.heif, .avif]) func writingIsRefusedInOneLine(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.\(format.rawValue)")
        let error = #expect(throws: ImagingError.self) {
            try ImageFile.write(CodecFixtures.gradient(width: 8, height: 8, channels: 3), to: url, format: format)
        }
        let message = error?.localizedDescription ?? ""
        #expect(message.contains(url.path) && message.contains("read, not written") && !message.contains("\n"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    /// Cut inside the ftyp box (too short to be recognised), the meta box, and the coded image.
    @Test(arguments: rgbFiles + ["heif_rgba.heic", "avif_camera.avif"]) func truncatedFilesFail(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = [UInt8](try CodecFixtures.data(name))
        for length in [8, 12, 20, 40, 100, bytes.count / 2, bytes.count - 10, bytes.count - 1] {
            let url = try CodecBadInputTests.write(Array(bytes.prefix(length)), "cut\(length)-\(name)", in: folder)
            let error = CodecBadInputTests.expectFailure(url)
            if case .tooLarge = error { Issue.record("\(length) bytes of \(name): \(String(describing: error))") }
        }
    }

    @Test(arguments: rgbFiles) func corruptBoxesFail(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var bytes = [UInt8](try CodecFixtures.data(name))
        for index in 24..<64 { bytes[index] ^= 0xFF }
        CodecBadInputTests.expectFailure(try CodecBadInputTests.write(bytes, "corrupt-\(name)", in: folder))
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        CodecBadInputTests.expectFailure(try CodecBadInputTests.write(Array(bytes.prefix(12)) + noise, "noise-\(name)", in: folder))
    }

    /// Over libheif's per-side limit (refused while libheif reads the file), and within it but
    /// over the caller's pixels (refused by the size check before decoding).
    @Test(arguments: rgbFiles) func hugeClaimedSizesAreTooLarge(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (width, height) in [(40_000, 40_000), (20_000, 10_000), (100_000, 1)] {
            let bytes = try HEIFBytes.claiming(width: UInt32(width), height: UInt32(height), from: name)
            let url = try CodecBadInputTests.write(bytes, "\(width)x\(height)-\(name)", in: folder)
            #expect(CodecBadInputTests.expectFailure(url) == .tooLarge(path: url.path, width: width, height: height,
                                                                       limit: 100_000_000))
        }
        let url = CodecFixtures.url(name)
        #expect(CodecBadInputTests.expectFailure(url, maxPixels: 1000) == .tooLarge(path: url.path, width: 64, height: 48,
                                                                                  limit: 1000))
    }

    /// The coded stream, not the ispe box, decides what libheif delivers: a stream larger than
    /// the container declares is refused after decoding, never copied into a buffer of the
    /// declared size.
    @Test(arguments: ["heif_large.heic", "avif_large.avif"]) func aStreamLargerThanItsContainerFails(name: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = try HEIFBytes.claiming(width: 64, height: 48, from: name)
        let url = try CodecBadInputTests.write(bytes, "small-claim-\(name)", in: folder)
        let message = CodecBadInputTests.expectFailure(url)?.localizedDescription ?? ""
        #expect(message.contains("decoded 1200x1000 8-bit pixels, not the 64x48 the container declares"), "\(message)")
    }
}

/// HEIF fixtures with their image spatial extents rewritten.
enum HEIFBytes {
    /// Every `ispe` property (a full box: size, "ispe", version and flags, then width and
    /// height, big-endian) set to `width` x `height`: the image and, in a grid, its tiles.
    static func claiming(width: UInt32, height: UInt32, from fixture: String) throws -> [UInt8] {
        var bytes = [UInt8](try CodecFixtures.data(fixture))
        let boxes = bytes.indices.dropLast(16).filter { Array(bytes[$0..<($0 + 4)]) == Array("ispe".utf8) }
        try #require(!boxes.isEmpty)
        for type in boxes {
            bytes.replaceSubrange((type + 8)..<(type + 16), with: PNGBytes.bigEndian(width) + PNGBytes.bigEndian(height))
        }
        return bytes
    }
}
