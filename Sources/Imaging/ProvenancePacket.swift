/// How an image came to be, in IPTC's Digital Source Type vocabulary
/// (http://cv.iptc.org/newscodes/digitalsourcetype/, the 2024-09-17 release): the terms an
/// Overpaint edit can earn. Definitions are IPTC's, abridged.
public enum DigitalSourceType: String, Sendable, CaseIterable {
    /// "Edited using Generative AI": augmentation, correction or enhancement by a generative
    /// model, such as inpainting or outpainting; the result keeps parts of the original.
    case compositeWithTrainedAlgorithmicMedia
    /// "Algorithmically-altered media": modification or correction by an algorithm without
    /// changing the main content, such as sharpening or noise reduction.
    case algorithmicallyEnhanced

    /// The term's URI, the value `Iptc4xmpExt:DigitalSourceType` takes.
    public var uri: String { "http://cv.iptc.org/newscodes/digitalsourcetype/\(rawValue)" }
}

/// An XMP packet (ISO 16684-1, XMP specification part 1) marking an output's provenance:
/// IPTC's `Iptc4xmpExt:DigitalSourceType` and `xmp:CreatorTool`. Merged into the input's own
/// packet where one is carried, written on its own otherwise (see `OutputXMP`).
public struct ProvenancePacket: Sendable, Equatable {
    public static let iptcExtensionNamespace = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    public static let xmpBasicNamespace = "http://ns.adobe.com/xap/1.0/"

    public var digitalSourceType: DigitalSourceType
    /// The software that made the output, "Overpaint 0.1.0".
    public var creatorTool: String

    public init(digitalSourceType: DigitalSourceType, creatorTool: String) {
        self.digitalSourceType = digitalSourceType
        self.creatorTool = creatorTool
    }

    /// The serialized packet, UTF-8. The xpacket id is the one the XMP specification fixes;
    /// `end="w"` says it may be edited in place, which a reader may do only within its length
    /// (no padding is added: outputs are not meant to be edited in place).
    public var xml: String {
        """
        <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/">
         <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
          <rdf:Description rdf:about=""
            xmlns:Iptc4xmpExt="\(Self.iptcExtensionNamespace)"
            xmlns:xmp="\(Self.xmpBasicNamespace)">
           <Iptc4xmpExt:DigitalSourceType>\(digitalSourceType.uri)</Iptc4xmpExt:DigitalSourceType>
           <xmp:CreatorTool>\(Self.escaped(creatorTool))</xmp:CreatorTool>
          </rdf:Description>
         </rdf:RDF>
        </x:xmpmeta>
        <?xpacket end="w"?>
        """
    }

    /// `text` as XML character data.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
