import Foundation
import Imaging

/// Minimal reader for the `.npy` fixtures of tools/reference/vision_fixtures.py:
/// version 1.0/2.0 headers, little-endian `uint8` or `float32`, C order.
public struct NPY {
    public enum Failure: Error, CustomStringConvertible {
        case malformed(String)
        public var description: String { switch self { case let .malformed(why): "npy: \(why)" } }
    }

    public var shape: [Int]
    public var dtype: String
    public var payload: Data

    public init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw Failure.malformed("\(url.lastPathComponent) has no NUMPY magic")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .ascii)
        else { throw Failure.malformed("header is not ASCII") }
        guard !header.contains("'fortran_order': True") else { throw Failure.malformed("Fortran order") }
        dtype = try NPY.field(header, "descr")
        let shapeText = try NPY.tuple(header)
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        payload = data.subdata(in: (headerStart + headerLength)..<data.count)
    }

    public var count: Int { shape.reduce(1, *) }

    public func uint8() throws -> [UInt8] {
        guard dtype == "|u1" else { throw Failure.malformed("dtype \(dtype), expected |u1") }
        return [UInt8](payload.prefix(count))
    }

    public func float32() throws -> [Float] {
        guard dtype == "<f4" else { throw Failure.malformed("dtype \(dtype), expected <f4") }
        let values = littleEndianFloat32s(payload)
        guard values.count >= count else { throw Failure.malformed("\(values.count) values for shape \(shape)") }
        return Array(values.prefix(count))
    }

    private static func field(_ header: String, _ key: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)': '") else { throw Failure.malformed("no \(key)") }
        let rest = header[keyRange.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { throw Failure.malformed("bad \(key)") }
        return String(rest[..<end])
    }

    private static func tuple(_ header: String) throws -> String {
        guard let start = header.range(of: "'shape': (") else { throw Failure.malformed("no shape") }
        let rest = header[start.upperBound...]
        guard let end = rest.firstIndex(of: ")") else { throw Failure.malformed("bad shape") }
        return String(rest[..<end])
    }
}

/// The float32 values a raw little-endian fixture (numpy's `.tofile`, an `.npy` payload) holds.
public func littleEndianFloat32s(_ data: Data) -> [Float] {
    data.withUnsafeBytes { raw in
        (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
}

/// Fixtures written by tools/reference/vision_fixtures.py.
public enum VisionFixture {
    public static let directory = Fixtures.root.appendingPathComponent("vision")

    public static func load(_ name: String) throws -> NPY {
        try NPY(contentsOf: directory.appendingPathComponent("\(name).npy"))
    }

    /// An 8-bit photo as an `Image` (shape (h, w) or (h, w, c)).
    public static func image(_ name: String) throws -> Image {
        let npy = try load(name)
        let channels = npy.shape.count == 3 ? npy.shape[2] : 1
        return Image(width: npy.shape[1], height: npy.shape[0], channels: channels, bitDepth: 8,
                     samples: try npy.uint8().map { Float($0) / 255 })
    }

    /// A bit-packed binary map (np.packbits, MSB first) unpacked to 0/255 bytes.
    public static func bits(_ name: String, count: Int) throws -> [UInt8] {
        let packed = try load(name).uint8()
        return (0..<count).map { i in (packed[i >> 3] >> (7 - UInt8(i & 7))) & 1 == 1 ? 255 : 0 }
    }
}
