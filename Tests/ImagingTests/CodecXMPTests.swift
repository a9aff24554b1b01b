import CCodecs
import Foundation
import OverpaintTestSupport
import Testing
@testable import Imaging

/// An input's XMP packet carried to outputs, from the photos of tools/reference/xmp_fixtures.py
/// (Pillow's PNG, JPEG, WebP and TIFF, heif-enc's HEIC), read back from the outputs' own chunks,
/// segments and tags by XMPReading.
@Suite struct CodecXMPTests {
    static let dc = "http://purl.org/dc/elements/1.1/"
    static let xmp = ProvenancePacket.xmpBasicNamespace
    static let iptc = ProvenancePacket.iptcExtensionNamespace
    static let tiff = "http://ns.adobe.com/tiff/1.0/"
    static let exif = "http://ns.adobe.com/exif/1.0/"
    static let photoshop = "http://ns.adobe.com/photoshop/1.0/"
    static let provenance = ProvenancePacket(digitalSourceType: .compositeWithTrainedAlgorithmicMedia,
                                             creatorTool: "Overpaint 0.1.0")

    /// The inputs; whether their pixels are upright once read, so that their orientation
    /// becomes 1 (the JPEG and the WebP turned by their EXIF Orientation 6; HEIF's taken as
    /// upright, heif-enc having given this one no irot); their width once read.
    static let inputs: [(name: String, upright: Bool, width: Int)] = [
        ("xmp_camera.png", false, 8), ("xmp_camera.jpg", true, 6), ("xmp_camera.webp", true, 6),
        ("xmp_camera.tif", false, 8), ("xmp_camera.heic", true, 8),
    ]

    static var roundTrips: [(String, Bool, Int, ImageFormat)] {
        inputs.flatMap { input in CodecFixtures.writableFormats.map { (input.name, input.upright, input.width, $0) } }
    }

    /// `input` read with its metadata and written as `format`; the output's XMP properties.
    static func written(_ input: String, as format: ImageFormat, provenance: ProvenancePacket?,
                        metadata: (ImageMetadata) -> ImageMetadata = { $0 }, in folder: URL) throws
        -> (image: Image, values: [String: [String]]?) {
        let (image, read) = try ImageFile.readWithMetadata(CodecFixtures.url(input))
        let url = folder.appendingPathComponent("edited.\(format.rawValue)")
        try ImageFile.write(image, to: url, format: format, text: [("parameters", "a lighthouse")],
                            metadata: metadata(read), provenance: provenance)
        let packet = try XMPReading.packet(inFileAt: url)
        return (try ImageFile.read(url), try packet.map { try #require(XMPReading.values(of: $0), "well-formed: \($0)") })
    }

    @Test(arguments: inputs.map(\.name)) func eachFormatsPacketIsRead(name: String) throws {
        let packet = try #require(try ImageFile.readWithMetadata(CodecFixtures.url(name)).metadata.xmp)
        let text = String(decoding: packet, as: UTF8.self)
        #expect(text.contains("<rdf:li xml:lang=\"x-default\">Le phare</rdf:li>"))
        #expect(text.hasSuffix("<?xpacket end=\"w\"?>"), "the whole packet, nothing after it")
    }

    /// The input's properties kept, ours set in place of theirs, the thumbnail of the unedited
    /// photo dropped, the orientation and dimensions describing the output's pixels.
    @Test(arguments: roundTrips) func theInputsPacketIsCarriedWithOursInIt(input: String, upright: Bool, width: Int,
                                                                          format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, found) = try Self.written(input, as: format, provenance: Self.provenance, in: folder)
        let values = try #require(found)
        #expect(values[Self.dc + "title"] == ["Le phare"])
        #expect(values[Self.dc + "creator"] == ["Anne Photographe"])
        #expect(values[Self.dc + "rights"] == ["\u{A9} 2024 Anne Photographe"])
        #expect(values[Self.dc + "subject"] == ["lighthouse", "coast"])
        #expect(values[Self.xmp + "Rating"] == ["4"])
        #expect(values[Self.photoshop + "City"] == ["Brest"])
        #expect(values[Self.iptc + "DigitalSourceType"] == [DigitalSourceType.compositeWithTrainedAlgorithmicMedia.uri])
        #expect(values[Self.xmp + "CreatorTool"] == ["Overpaint 0.1.0"])
        #expect(values[Self.xmp + "Thumbnails"] == nil)
        #expect(values[Self.tiff + "Orientation"] == [upright ? "1" : "6"])
        #expect(image.width == width)
        #expect(values[Self.exif + "PixelXDimension"] == ["\(image.width)"])
        #expect(values[Self.exif + "PixelYDimension"] == ["\(image.height)"])
    }

    /// A model-free edit marks nothing: the input's packet goes as it was, but for the output's
    /// orientation and size and the thumbnail.
    @Test(arguments: CodecFixtures.writableFormats) func withoutProvenanceTheInputsPacketIsCarriedAsItWas(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let values = try #require(try Self.written("xmp_camera.jpg", as: format, provenance: nil, in: folder).values)
        #expect(values[Self.xmp + "CreatorTool"] == ["Adobe Photoshop Lightroom Classic 13.0"])
        #expect(values[Self.iptc + "DigitalSourceType"] == ["http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"])
        #expect(values[Self.dc + "subject"] == ["lighthouse", "coast"])
        #expect(values[Self.tiff + "Orientation"] == ["1"])
        #expect(values[Self.xmp + "Thumbnails"] == nil)
    }

    /// `strip` carries nothing of the input's: the provenance packet alone, or no XMP.
    @Test(arguments: CodecFixtures.writableFormats) func strippedOutputsCarryOnlyTheProvenancePacket(format: ImageFormat) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, _) = try ImageFile.readWithMetadata(CodecFixtures.url("xmp_camera.jpg"))
        let url = folder.appendingPathComponent("stripped.\(format.rawValue)")
        try ImageFile.write(image, to: url, format: format, metadata: .none, provenance: Self.provenance)
        #expect(try XMPReading.packet(inFileAt: url) == Self.provenance.xml)
        try ImageFile.write(image, to: url, format: format, metadata: .none)
        #expect(try XMPReading.packet(inFileAt: url) == nil)
    }

    /// A packet Exempi does not read (not XML, not XMP, nested past any real packet) is dropped;
    /// the image is written with the provenance packet alone, or none.
    @Test(arguments: ["<?xpacket begin=\"\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF",
                      "just some notes", "<photo><title>plain XML, no namespace</title></photo>",
                      XMPPackets.nested(depth: 25_000)])
    func aPacketExempiDoesNotReadIsDropped(packet: String) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = try XMPPackets.png(carrying: packet, in: folder)
        let (image, metadata) = try ImageFile.readWithMetadata(input)
        #expect(metadata.xmp == Array(packet.utf8), "read as it is")
        for format in CodecFixtures.writableFormats {
            let url = folder.appendingPathComponent("edited.\(format.rawValue)")
            try ImageFile.write(image, to: url, format: format, metadata: metadata, provenance: Self.provenance)
            #expect(try XMPReading.packet(inFileAt: url) == Self.provenance.xml, "\(format)")
            try ImageFile.write(image, to: url, format: format, metadata: metadata)
            #expect(try XMPReading.packet(inFileAt: url) == nil, "\(format)")
        }
    }

    /// Nesting within real packets' depths is Exempi's to read.
    @Test func aPacketNestedAsDeepAsRealOnesIsRead() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (image, metadata) = try ImageFile.readWithMetadata(try XMPPackets.png(carrying: XMPPackets.nested(depth: 20),
                                                                                   in: folder))
        let url = folder.appendingPathComponent("edited.png")
        try ImageFile.write(image, to: url, format: .png, metadata: metadata, provenance: Self.provenance)
        let values = try #require(try XMPReading.packet(inFileAt: url).flatMap(XMPReading.values))
        #expect(values[Self.dc + "description"] == ["deep"])
    }

    @Test func aPacketOverAMegabyteIsNotRead() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let large = XMPPackets.describing(String(repeating: "a", count: Int(CCODECS_XMP_LIMIT)))
        let metadata = try ImageFile.readWithMetadata(try XMPPackets.png(carrying: large, in: folder)).metadata
        #expect(metadata.xmp == nil)
        let fits = XMPPackets.describing(String(repeating: "a", count: 1000))
        #expect(try ImageFile.readWithMetadata(try XMPPackets.png(carrying: fits, in: folder)).metadata.xmp != nil)
    }

    /// A JPEG holds one 64 KB segment of XMP: an input packet that no longer fits once merged is
    /// left out there (and kept in the other formats), rather than failing the write.
    @Test func aPacketTooLargeForAJPEGSegmentIsLeftOutOfJPEGsOnly() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 20 bytes short of the segment's capacity: merging adds more than that.
        let description = String(repeating: "a", count: Int(CCODECS_JPEG_XMP_CAPACITY) - XMPPackets.describing("").utf8.count - 20)
        let packet = XMPPackets.describing(description)
        #expect(packet.utf8.count == Int(CCODECS_JPEG_XMP_CAPACITY) - 20)
        let (image, metadata) = try ImageFile.readWithMetadata(try XMPPackets.png(carrying: packet, in: folder))
        let jpeg = folder.appendingPathComponent("edited.jpg")
        try ImageFile.write(image, to: jpeg, format: .jpeg, metadata: metadata, provenance: Self.provenance)
        #expect(try XMPReading.packet(inFileAt: jpeg) == Self.provenance.xml)
        let png = folder.appendingPathComponent("edited.png")
        try ImageFile.write(image, to: png, format: .png, metadata: metadata, provenance: Self.provenance)
        let values = try #require(try XMPReading.packet(inFileAt: png).flatMap(XMPReading.values))
        #expect(values[Self.dc + "description"] == [description])
        #expect(values[Self.xmp + "CreatorTool"] == ["Overpaint 0.1.0"])
    }
}

/// PNG inputs carrying a given XMP packet, and packets to carry.
enum XMPPackets {
    static let header = "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>"
        + "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        + "<rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
    static let footer = "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"

    /// A packet with one dc:description.
    static func describing(_ text: String) -> String {
        header + "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">\(text)</rdf:li></rdf:Alt></dc:description>"
            + footer
    }

    /// A dc:description holding "deep" under `depth` levels of struct fields.
    static func nested(depth: Int) -> String {
        let open = String(repeating: "<dc:x rdf:parseType=\"Resource\">", count: depth)
        let close = String(repeating: "</dc:x>", count: depth)
        return header + open + "<dc:description>deep</dc:description>" + close + footer
    }

    /// An 8x6 PNG with `packet` in an iTXt chunk keyed XML:com.adobe.xmp, after IHDR.
    static func png(carrying packet: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("with-xmp.png")
        try ImageFile.write(CodecFixtures.gradient(width: 8, height: 6, channels: 3), to: url, format: .png)
        var bytes = [UInt8](try Data(contentsOf: url))
        let chunk = PNGBytes.chunk("iTXt", Array(XMPReading.pngKeyword.utf8) + [0, 0, 0, 0, 0] + Array(packet.utf8))
        bytes.insert(contentsOf: chunk, at: 8 + 25)  // signature, then IHDR's 25 bytes
        try Data(bytes).write(to: url)
        return url
    }
}
