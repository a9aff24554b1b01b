import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// The provenance XMP packet written where each format keeps XMP, read back from the file's
/// own chunks, segments and tags.
@Suite struct CodecProvenanceTests {
    static let provenance = ProvenancePacket(digitalSourceType: .compositeWithTrainedAlgorithmicMedia,
                                             creatorTool: "Overpaint 0.1.0")
    static let parameters = "a lighthouse\nSteps: 20, Seed: 7"

    /// `image` written as `format` with a camera's EXIF and profile, the parameters and `provenance`.
    static func written(_ format: ImageFormat, provenance: ProvenancePacket?, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("edited.\(format.rawValue)")
        try ImageFile.write(CodecFixtures.gradient(width: 32, height: 24, channels: 3), to: url, format: format,
                            text: [("parameters", Self.parameters)],
                            metadata: CameraMetadata.metadata(orientation: 1, width: 32, height: 24),
                            provenance: provenance)
        return url
    }

    @Test(arguments: CodecFixtures.writableFormats)
    func thePacketIsWrittenWhereTheFormatKeepsXMP(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try Self.written(format, provenance: Self.provenance, in: folder)

        let packet = try #require(try XMPReading.packet(inFileAt: url))
        #expect(packet == Self.provenance.xml)
        let properties = try #require(XMPReading.properties(of: packet), "well-formed XML in its xpacket wrapper")
        #expect(properties[ProvenancePacket.iptcExtensionNamespace + "DigitalSourceType"]
            == "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
        #expect(properties[ProvenancePacket.xmpBasicNamespace + "CreatorTool"] == "Overpaint 0.1.0")
        let (image, metadata) = try ImageFile.readWithMetadata(url)
        #expect(image.width == 32 && image.height == 24)
        #expect(metadata.iccProfile == CameraMetadata.iccProfile, "the other metadata stays")
    }

    /// XMP part 3: PNG's packet in an uncompressed iTXt chunk before the image data.
    @Test func aPNGsPacketIsAnUncompressedITXtChunkBeforeTheImageData() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunks = try XMPReading.pngChunks([UInt8](try Data(contentsOf: Self.written(.png, provenance: Self.provenance,
                                                                                         in: folder))))
        let xmp = try #require(chunks.firstIndex { XMPReading.xmpText($0) != nil })
        let imageData = try #require(chunks.firstIndex { $0.name == "IDAT" })
        #expect(xmp < imageData)
        #expect(chunks.filter { $0.bytes.starts(with: Array(XMPReading.pngKeyword.utf8)) }.count == 1)
        #expect(try ImageFile.readTextChunks(folder.appendingPathComponent("edited.png"))["parameters"] == Self.parameters)
    }

    /// JPEG's packet in its own APP1 segment, after the Exif APP1 that readers expect first.
    @Test func aJPEGsPacketIsAnAPP1SegmentAfterTheExifOne() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let segments = try XMPReading.jpegSegments([UInt8](try Data(contentsOf: Self.written(.jpeg, provenance: Self.provenance,
                                                                                             in: folder))))
        let app1 = segments.filter { $0.name == "APP1" }
        #expect(app1.count == 2)
        #expect(app1.first?.bytes.starts(with: XMPReading.exifSignature) == true)
        #expect(app1.last?.bytes.starts(with: XMPReading.jpegSignature) == true)
    }

    /// WebP's packet in an `XMP ` chunk of the extended format, its VP8X flag set.
    @Test func aWebPsPacketIsAnXMPChunkFlaggedInVP8X() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunks = try XMPReading.webpChunks([UInt8](try Data(contentsOf: Self.written(.webp, provenance: Self.provenance,
                                                                                         in: folder))))
        let header = try #require(chunks.first)
        #expect(header.name == "VP8X")
        #expect(header.bytes.first.map { $0 & 0x04 != 0 } == true, "the XMP flag")
        #expect(chunks.map(\.name).filter { $0 == "XMP " }.count == 1)
    }

    /// TIFF's packet in the XMLPacket tag (700) of the image's IFD, as BYTEs.
    @Test func aTIFFsPacketIsTheXMLPacketTag() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let entries = try XMPReading.tiffEntries([UInt8](try Data(contentsOf: Self.written(.tiff, provenance: Self.provenance,
                                                                                           in: folder))))
        #expect(entries[700]?.type == 1)
    }

    @Test(arguments: CodecFixtures.writableFormats)
    func withoutProvenanceNoXMPIsWritten(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try XMPReading.packet(inFileAt: Self.written(format, provenance: nil, in: folder)) == nil)
    }

    /// The creator tool is character data: markup in it is escaped, not parsed.
    @Test func theCreatorToolIsEscaped() throws {
        let packet = ProvenancePacket(digitalSourceType: .algorithmicallyEnhanced, creatorTool: "Overpaint <dev> & co").xml
        let properties = try #require(XMPReading.properties(of: packet))
        #expect(properties[ProvenancePacket.xmpBasicNamespace + "CreatorTool"] == "Overpaint <dev> & co")
        #expect(properties[ProvenancePacket.iptcExtensionNamespace + "DigitalSourceType"]
            == "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced")
    }
}
