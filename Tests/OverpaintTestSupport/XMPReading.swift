import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A chunk, segment or tag of an image file, by the name its format gives it.
public struct FileBlock: Equatable {
    public var name: String
    public var bytes: [UInt8]
}

/// Where PNG, JPEG, WebP and TIFF files keep their XMP, found by walking each format's own
/// structure from the file's bytes (no codec library involved), as XMP specification part 3
/// places it: PNG's iTXt `XML:com.adobe.xmp`, JPEG's APP1 `http://ns.adobe.com/xap/1.0/\0`,
/// WebP's `XMP ` chunk, TIFF's tag 700.
public enum XMPReading {
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    public static let pngKeyword = "XML:com.adobe.xmp"
    public static let jpegSignature = Array("http://ns.adobe.com/xap/1.0/\0".utf8)
    public static let exifSignature: [UInt8] = Array("Exif".utf8) + [0, 0]

    /// The XMP packet of the file at `url`, or nil when it has none; the format is told by its
    /// magic bytes.
    public static func packet(inFileAt url: URL) throws -> String? {
        let data = [UInt8](try Data(contentsOf: url))
        let bytes: [UInt8]?
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            bytes = try pngChunks(data).lazy.compactMap(xmpText).first
        } else if data.starts(with: [0xFF, 0xD8]) {
            bytes = try jpegSegments(data).first { $0.name == "APP1" && $0.bytes.starts(with: jpegSignature) }
                .map { Array($0.bytes.dropFirst(jpegSignature.count)) }
        } else if data.starts(with: Array("RIFF".utf8)) {
            bytes = try webpChunks(data).first { $0.name == "XMP " }?.bytes
        } else {
            bytes = try tiffEntries(data)[700]?.bytes
        }
        return bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// A PNG's chunks in file order, by type, with their data.
    public static func pngChunks(_ data: [UInt8]) throws -> [FileBlock] {
        var chunks: [FileBlock] = []
        var offset = 8
        while offset + 12 <= data.count {
            let length = Int(bigEndian32(data, at: offset))
            let type = String(decoding: data[offset + 4..<offset + 8], as: UTF8.self)
            guard offset + 12 + length <= data.count else { throw Malformed(description: "PNG chunk \(type) overruns the file") }
            chunks.append(FileBlock(name: type, bytes: Array(data[offset + 8..<offset + 8 + length])))
            offset += 12 + length
            if type == "IEND" { break }
        }
        return chunks
    }

    /// The text of an iTXt chunk keyed `XML:com.adobe.xmp` that is stored as XMP part 3 asks:
    /// uncompressed, with empty language tag and translated keyword; nil for any other chunk.
    public static func xmpText(_ chunk: FileBlock) -> [UInt8]? {
        let header = Array(pngKeyword.utf8) + [0, 0, 0, 0, 0]
        guard chunk.name == "iTXt", chunk.bytes.starts(with: header) else { return nil }
        return Array(chunk.bytes.dropFirst(header.count))
    }

    /// A JPEG's marker segments up to the start of scan, named "APP1", "APP2", "DQT"...,
    /// with their payloads (the length field dropped).
    public static func jpegSegments(_ data: [UInt8]) throws -> [FileBlock] {
        var segments: [FileBlock] = []
        var offset = 2
        while offset + 4 <= data.count, data[offset] == 0xFF {
            let marker = data[offset + 1]
            let length = Int(data[offset + 2]) << 8 | Int(data[offset + 3])
            guard length >= 2, offset + 2 + length <= data.count else {
                throw Malformed(description: "JPEG segment \(marker) overruns the file")
            }
            let name = (0xE0...0xEF).contains(marker) ? "APP\(marker - 0xE0)" : marker == 0xDB ? "DQT" : "\(marker)"
            segments.append(FileBlock(name: name, bytes: Array(data[offset + 4..<offset + 2 + length])))
            if marker == 0xDA { break }
            offset += 2 + length
        }
        return segments
    }

    /// A WebP's chunks after the RIFF header, by FourCC, each padded to an even size.
    public static func webpChunks(_ data: [UInt8]) throws -> [FileBlock] {
        guard data.count >= 12, data[8..<12].elementsEqual("WEBP".utf8) else { throw Malformed(description: "not a WebP") }
        var chunks: [FileBlock] = []
        var offset = 12
        while offset + 8 <= data.count {
            let fourCC = String(decoding: data[offset..<offset + 4], as: UTF8.self)
            let size = Int(littleEndian32(data, at: offset + 4))
            guard offset + 8 + size <= data.count else { throw Malformed(description: "WebP chunk \(fourCC) overruns the file") }
            chunks.append(FileBlock(name: fourCC, bytes: Array(data[offset + 8..<offset + 8 + size])))
            offset += 8 + size + size % 2
        }
        return chunks
    }

    /// The first IFD of a TIFF, by tag: each entry's type and value bytes.
    public static func tiffEntries(_ data: [UInt8]) throws -> [UInt16: (type: UInt16, bytes: [UInt8])] {
        guard data.count >= 8 else { throw Malformed(description: "not a TIFF") }
        let little = data.starts(with: Array("II".utf8))
        let u16 = { (at: Int) -> Int in little ? Int(data[at]) | Int(data[at + 1]) << 8 : Int(data[at]) << 8 | Int(data[at + 1]) }
        let u32 = { (at: Int) -> Int in little ? Int(littleEndian32(data, at: at)) : Int(bigEndian32(data, at: at)) }
        let typeSizes = [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8]
        let ifd = u32(4)
        guard ifd + 2 <= data.count else { throw Malformed(description: "TIFF IFD outside the file") }
        var entries: [UInt16: (type: UInt16, bytes: [UInt8])] = [:]
        for index in 0..<u16(ifd) {
            let entry = ifd + 2 + 12 * index
            guard entry + 12 <= data.count else { throw Malformed(description: "TIFF entry outside the file") }
            let (tag, type, count) = (u16(entry), u16(entry + 2), u32(entry + 4))
            let length = count * (typeSizes[type] ?? 1)
            let start = length <= 4 ? entry + 8 : u32(entry + 8)
            guard start + length <= data.count else { throw Malformed(description: "TIFF tag \(tag) outside the file") }
            entries[UInt16(tag)] = (UInt16(type), Array(data[start..<start + length]))
        }
        return entries
    }

    /// The simple properties of an XMP packet, keyed "namespace URI + local name" (the XML
    /// parser resolves the prefixes), or nil when the packet is not well-formed XML or not
    /// wrapped in the xpacket processing instructions.
    public static func properties(of packet: String) -> [String: String]? {
        guard packet.hasPrefix("<?xpacket begin="), packet.hasSuffix("<?xpacket end=\"w\"?>") || packet.hasSuffix("<?xpacket end=\"r\"?>")
        else { return nil }
        var properties: [String: String] = [:]
        let parsed = walkElements(of: packet, opened: { _, _ in }, closed: { namespace, name, text in
            if !text.isEmpty { properties[namespace + name] = text }
        })
        return parsed ? properties : nil
    }

    /// Every property element of an XMP packet, keyed "namespace URI + local name", with the
    /// text values it holds: a simple property's value, an array's items in order; a struct's
    /// fields are properties of their own. The packet as Exempi writes it (properties as
    /// elements, not attributes). nil when it is not well-formed XML in its xpacket wrapper.
    public static func values(of packet: String) -> [String: [String]]? {
        guard properties(of: packet) != nil else { return nil }
        var values: [String: [String]] = [:]
        /// The open elements, and the property each one's text belongs to.
        var owners: [String?] = []
        let parsed = walkElements(of: packet, opened: { namespace, name in
            let own = structuralNamespaces.contains(namespace) ? nil : namespace + name
            if let own, values[own] == nil { values[own] = [] }
            owners.append(own ?? owners.last ?? nil)
        }, closed: { _, _, text in
            if !text.isEmpty, let property = owners.last ?? nil { values[property, default: []].append(text) }
            owners.removeLast()
        })
        return parsed ? values : nil
    }

    /// The namespaces of RDF's and XMP's wrapping elements, which are no properties.
    private static let structuralNamespaces: Set<String> = ["http://www.w3.org/1999/02/22-rdf-syntax-ns#", "adobe:ns:meta/"]

    /// Parses `packet` with its prefixes resolved, handing `opened` each element's namespace URI
    /// and local name as it opens, and `closed` the same with the element's trimmed text (what
    /// came since the last element opened or closed) as it closes; whether the packet is
    /// well-formed XML.
    private static func walkElements(of packet: String, opened: @escaping (_ namespace: String, _ name: String) -> Void,
                                     closed: @escaping (_ namespace: String, _ name: String, _ text: String) -> Void) -> Bool {
        let walker = ElementWalker(opened: opened, closed: closed)
        let parser = XMLParser(data: Data(packet.utf8))
        parser.shouldProcessNamespaces = true
        parser.delegate = walker
        return parser.parse()
    }

    private final class ElementWalker: NSObject, XMLParserDelegate {
        private let opened: (String, String) -> Void
        private let closed: (String, String, String) -> Void
        private var text = ""

        init(opened: @escaping (String, String) -> Void, closed: @escaping (String, String, String) -> Void) {
            self.opened = opened
            self.closed = closed
        }

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            opened(namespaceURI ?? "", elementName)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?) {
            closed(namespaceURI ?? "", elementName, text.trimmingCharacters(in: .whitespacesAndNewlines))
            text = ""
        }
    }

    private static func bigEndian32(_ data: [UInt8], at offset: Int) -> UInt32 {
        data[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func littleEndian32(_ data: [UInt8], at offset: Int) -> UInt32 {
        data[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
}
