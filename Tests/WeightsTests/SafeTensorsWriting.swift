import Foundation
import Tensors

/// Writes `header` JSON (padded to 8 bytes) and `data` as a raw safetensors file.
func writeRawSafeTensors(header: String, data: [UInt8], to url: URL, declaredLength: UInt64? = nil) throws {
    var json = Array(header.utf8)
    json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
    var length = (declaredLength ?? UInt64(json.count)).littleEndian
    var bytes = withUnsafeBytes(of: &length) { Array($0) }
    bytes += json + data
    try Data(bytes).write(to: url)
}

/// Tensors of the given shapes filled with zeros (for header-only tests).
func zeros(_ shapes: [String: [Int]]) -> [String: Tensor] {
    shapes.mapValues { Tensor(zeros: $0) }
}
