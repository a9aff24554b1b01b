import CCodecs
import Foundation

/// The XMP packet an output carries: the input's own packet rewritten for the output (its
/// properties kept, the provenance marked in it), or the provenance packet alone.
enum OutputXMP {
    /// - `input`: the input's packet (`ImageMetadata.xmp`); nil when it had none or is not carried.
    /// - `orientationReset`: the pixels were turned upright on reading, so tiff:Orientation becomes 1.
    /// - `capacity`: the most bytes the output format holds (a JPEG segment's), nil for no limit.
    ///
    /// The input's packet is left out, and the provenance packet (if any) written alone, when
    /// Exempi does not read it or when, rewritten, it does not fit `capacity`: a bad or
    /// oversized packet costs the output the input's XMP, never the image.
    static func packet(input: [UInt8]?, provenance: ProvenancePacket?, orientationReset: Bool, width: Int,
                       height: Int, capacity: Int?) -> [UInt8]? {
        let alone = provenance.map { Array($0.xml.utf8) }
        guard let input,
              let merged = merged(input, provenance: provenance, orientationReset: orientationReset, width: width,
                                  height: height),
              merged.count <= capacity ?? .max else { return alone }
        return merged
    }

    /// `ccodecs_xmp_merge` of `input`; nil when Exempi does not read it.
    private static func merged(_ input: [UInt8], provenance: ProvenancePacket?, orientationReset: Bool, width: Int,
                               height: Int) -> [UInt8]? {
        func merge(sourceType: UnsafePointer<CChar>?, creatorTool: UnsafePointer<CChar>?) -> [UInt8]? {
            var changes = ccodecs_xmp_changes(digital_source_type: sourceType, creator_tool: creatorTool,
                                              reset_orientation: orientationReset ? 1 : 0,
                                              width: UInt32(clamping: width), height: UInt32(clamping: height))
            var merged: UnsafeMutablePointer<CChar>?
            var length = 0
            let status = input.withUnsafeBufferPointer { bytes in
                ccodecs_xmp_merge(bytes.baseAddress, bytes.count, &changes, &merged, &length)
            }
            guard status == CCODECS_OK, let merged else { return nil }
            defer { free(merged) }
            return Array(UnsafeRawBufferPointer(start: merged, count: length))
        }
        guard let provenance else { return merge(sourceType: nil, creatorTool: nil) }
        return provenance.digitalSourceType.uri.withCString { sourceType in
            provenance.creatorTool.withCString { creatorTool in merge(sourceType: sourceType, creatorTool: creatorTool) }
        }
    }
}
