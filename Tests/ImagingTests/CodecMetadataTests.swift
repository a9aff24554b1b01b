import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// A camera's EXIF and ICC profile carried from an input to outputs of every format, and
/// what is left of them when an output carries nothing (`ImageMetadata.none`).
@Suite struct CodecMetadataTests {
    static let parameters = "a lighthouse, (dusk:1.2)\nNegative prompt: fog\nSteps: 20, Seed: 7, édits: fill"

    /// A JPEG as a camera writes it: 64x48 stored, Orientation 6 (shown 48x64), with EXIF and ICC.
    static func cameraJPEG(in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("camera.jpg")
        try ImageFile.write(CodecFixtures.gradient(width: 64, height: 48, channels: 3), to: url, format: .jpeg,
                            metadata: CameraMetadata.metadata(orientation: 6, width: 64, height: 48))
        return url
    }

    static func fields(_ metadata: ImageMetadata) throws -> ExifFields {
        let exif = try #require(metadata.exif)
        return try #require(ExifFields(exif))
    }

    @Test func readingAJPEGTakesItsMetadataAndTurnsItsPixels() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, metadata) = try ImageFile.readWithMetadata(try Self.cameraJPEG(in: folder))
        #expect(image.width == 48 && image.height == 64)
        #expect(metadata.iccProfile == CameraMetadata.iccProfile)
        #expect(metadata.orientationApplied)
        let fields = try Self.fields(metadata)
        #expect(fields.integer(0x0112) == 6)
        #expect(fields.string(0x010F) == CameraMetadata.make)
    }

    @Test(arguments: CodecFixtures.writableFormats) func keepCarriesTheCameraMetadata(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, metadata) = try ImageFile.readWithMetadata(try Self.cameraJPEG(in: folder))
        let url = folder.appendingPathComponent("edited.\(format.rawValue)")
        try ImageFile.write(image, to: url, format: format, text: [("parameters", Self.parameters)], metadata: metadata)

        let written = try ImageFile.readWithMetadata(url).metadata
        #expect(written.iccProfile == CameraMetadata.iccProfile, "the profile's bytes, unchanged")
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(bytes.firstRange(of: Array("stale thumbnail".utf8)) == nil, "the thumbnail shows the unedited photo")
        guard format != .tiff else {
            #expect(written.exif == nil, "TIFF outputs carry no EXIF")
            return
        }
        let fields = try Self.fields(written)
        #expect(fields.string(0x010F) == CameraMetadata.make)
        #expect(fields.string(0x0110) == CameraMetadata.model)
        #expect(fields.integer(0x0112) == 1, "the pixels were turned on reading")
        #expect(fields.entry(0x0002, in: .gps)?.bytes.count == 24, "GPSLatitude, three RATIONALs")
        #expect(fields.integer(0xA002, in: .exif) == 48 && fields.integer(0xA003, in: .exif) == 64)
        #expect(written.exif.flatMap(ExifUserComment.text) == Self.parameters)
        if format == .png { #expect(try ImageFile.readTextChunks(url)["parameters"] == Self.parameters) }
    }

    @Test(arguments: CodecFixtures.writableFormats) func stripCarriesOnlyTheParameters(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = try ImageFile.read(try Self.cameraJPEG(in: folder))
        let url = folder.appendingPathComponent("edited.\(format.rawValue)")
        try ImageFile.write(image, to: url, format: format, text: [("parameters", Self.parameters)], metadata: .none)

        let written = try ImageFile.readWithMetadata(url).metadata
        #expect(written.iccProfile == nil)
        switch format {
        case .jpeg, .webp: #expect(written.exif == ExifUserComment.exif(Self.parameters), "A1111's block, no camera tags")
        default: #expect(written.exif == nil)
        }
    }

    /// A PNG's or WebP's EXIF Orientation turns its pixels on reading, as Pillow's exif_transpose
    /// (diffusers' load_image) turns them, so the output is upright with Orientation 1.
    @Test(arguments: [ImageFormat.png, .webp])
    func aPNGOrWebPInputIsTurnedByItsOrientation(_ format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let camera = folder.appendingPathComponent("camera.\(format.rawValue)")
        let stored = CodecFixtures.gradient(width: 64, height: 48, channels: 3)
        try ImageFile.write(stored, to: camera, format: format, quality: 100, metadata: CameraMetadata.metadata(orientation: 6))
        let (image, metadata) = try ImageFile.readWithMetadata(camera)
        #expect(image.width == 48 && image.height == 64 && metadata.orientationApplied)
        // rotate 90 clockwise: the stored bottom-left pixel is the upright top-left one
        #expect((0..<3).allSatisfy { image[0, 0, $0] == stored[0, 47, $0] })
        #expect((0..<3).allSatisfy { image[47, 63, $0] == stored[63, 0, $0] })

        let url = folder.appendingPathComponent("edited.jpg")
        try ImageFile.write(image, to: url, format: .jpeg, text: [("parameters", Self.parameters)], metadata: metadata)
        let written = try ImageFile.readWithMetadata(url)
        #expect(try Self.fields(written.metadata).integer(0x0112) == 1)
        #expect(written.image.width == 48)
    }

    /// libpng refuses to write the old HP / Microsoft sRGB profile unless told to skip its sRGB check.
    @Test func aFlawedSRGBProfileIsCarriedAsItCame() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, metadata) = try ImageFile.readWithMetadata(Fixtures.packageRoot.appendingPathComponent("samples/astronaut.png"))
        #expect(metadata.iccProfile?.count == 3144)
        let url = folder.appendingPathComponent("edited.png")
        try ImageFile.write(image, to: url, format: .png, metadata: metadata)
        #expect(try ImageFile.readWithMetadata(url).metadata.iccProfile == metadata.iccProfile)
    }

    @Test(arguments: [ImageFormat.png, .jpeg, .tiff]) func aProfileOfAnotherColourSpaceIsLeftOut(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("gray.\(format.rawValue)")
        try ImageFile.write(CodecFixtures.gradient(width: 16, height: 16, channels: 1), to: url, format: format,
                            metadata: CameraMetadata.metadata())
        #expect(try ImageFile.readWithMetadata(url).metadata.iccProfile == nil, "an RGB profile on gray samples")
    }

    @Test(arguments: [ImageFormat.jpeg, .webp]) func unreadableEXIFLeavesTheParametersBlock(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.\(format.rawValue)")
        let garbage = Array("II*\0".utf8) + [0xFF, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0xA5, count: 40)
        try ImageFile.write(CodecFixtures.gradient(width: 16, height: 16, channels: 3), to: url, format: format,
                            text: [("parameters", Self.parameters)], metadata: ImageMetadata(exif: garbage))
        #expect(try ImageFile.readWithMetadata(url).metadata.exif == ExifUserComment.exif(Self.parameters))
    }

    /// JPEG splits a profile over APP2 segments of at most 65519 bytes; reading joins them.
    @Test(arguments: [ImageFormat.jpeg, .webp, .png, .tiff]) func largeProfilesSurvive(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var profile = CameraMetadata.iccProfile + (0..<200_000).map { UInt8($0 % 251) }
        let length = UInt32(profile.count)
        profile.replaceSubrange(0..<4, with: (0..<4).map { UInt8(length >> (24 - 8 * $0) & 0xFF) })
        let url = folder.appendingPathComponent("large.\(format.rawValue)")
        try ImageFile.write(CodecFixtures.gradient(width: 16, height: 16, channels: 3), to: url, format: format,
                            metadata: ImageMetadata(iccProfile: profile))
        #expect(try ImageFile.readWithMetadata(url).metadata.iccProfile == profile)
    }
}
