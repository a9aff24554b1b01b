import Foundation

/// Element types a safetensors file may declare.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Whether the type converts exactly (or by plain widening/rounding) to a `Float` weight.
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }
}

/// One tensor's entry in a safetensors header: type, shape and where its bytes lie.
public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range relative to the start of the data section (just after the header).
    public let dataRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// The validated content of a safetensors header.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
/// then the data section. Everything is checked here, before any tensor byte is touched.
public struct SafeTensorsHeader: Sendable {
    public let entries: [String: SafeTensorsEntry]
    public let metadata: [String: String]
    /// Offset of the data section from the start of the file.
    public let dataStart: Int

    /// Parses and validates the header of a file of `fileSize` bytes whose first bytes are `bytes`
    /// (the whole file when memory-mapped).
    public init(bytes: UnsafeRawBufferPointer, fileSize: Int, path: String) throws {
        guard fileSize >= 8, bytes.count >= 8 else {
            throw WeightsError.truncated(path: path, detail: "\(fileSize) bytes, shorter than the 8-byte header length")
        }
        let headerLength = Self.littleEndianUInt64(bytes)
        guard headerLength <= UInt64(fileSize - 8), Int(headerLength) <= bytes.count - 8 else {
            throw WeightsError.truncated(path: path, detail: "header of \(headerLength) bytes in a \(fileSize)-byte file")
        }
        let json = Data(bytes[8 ..< 8 + Int(headerLength)])
        dataStart = 8 + Int(headerLength)
        let object = try Self.jsonObject(json, path: path)
        (entries, metadata) = try Self.parseEntries(object, dataLength: fileSize - dataStart, path: path)
    }

    private static func littleEndianUInt64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        (0 ..< 8).reduce(UInt64(0)) { value, index in value | UInt64(bytes[index]) << (8 * UInt64(index)) }
    }

    private static func jsonObject(_ json: Data, path: String) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw WeightsError.badHeader(path: path, detail: "header is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw WeightsError.badHeader(path: path, detail: "header is not a JSON object")
        }
        return object
    }

    private static func parseEntries(
        _ object: [String: Any], dataLength: Int, path: String
    ) throws -> ([String: SafeTensorsEntry], [String: String]) {
        var entries: [String: SafeTensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, path: path)
            } else {
                entries[name] = try parseEntry(name: name, value, dataLength: dataLength, path: path)
            }
        }
        try checkNoOverlap(entries.values, path: path)
        return (entries, metadata)
    }

    private static func parseMetadata(_ value: Any, path: String) throws -> [String: String] {
        guard let dictionary = value as? [String: Any] else {
            throw WeightsError.badHeader(path: path, detail: "__metadata__ is not an object")
        }
        var metadata: [String: String] = [:]
        for (key, item) in dictionary {
            guard let text = item as? String else {
                throw WeightsError.badHeader(path: path, detail: "__metadata__ value '\(key)' is not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(name: String, _ value: Any, dataLength: Int, path: String) throws -> SafeTensorsEntry {
        guard let fields = value as? [String: Any],
              let dtypeName = fields["dtype"] as? String,
              let shapeValues = fields["shape"] as? [Any],
              let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2
        else {
            throw WeightsError.badHeader(path: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw WeightsError.badHeader(path: path, detail: "tensor '\(name)' has unknown dtype \(dtypeName)")
        }
        let shape = try shapeValues.map { try nonNegativeInt($0, what: "shape of '\(name)'", path: path) }
        let begin = try nonNegativeInt(offsetValues[0], what: "data_offsets of '\(name)'", path: path)
        let end = try nonNegativeInt(offsetValues[1], what: "data_offsets of '\(name)'", path: path)
        guard begin <= end else {
            throw WeightsError.badHeader(path: path, detail: "tensor '\(name)' has data_offsets [\(begin), \(end)]")
        }
        guard end <= dataLength else {
            throw WeightsError.truncated(path: path, detail: "tensor '\(name)' ends at byte \(end) of a \(dataLength)-byte data section")
        }
        guard let byteCount = checkedByteCount(shape: shape, dtype: dtype), byteCount == end - begin else {
            throw WeightsError.badHeader(
                path: path, detail: "tensor '\(name)' of shape \(shape) \(dtypeName) does not fill its \(end - begin) bytes")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataRange: begin ..< end)
    }

    private static func nonNegativeInt(_ value: Any, what: String, path: String) throws -> Int {
        // JSONSerialization gives NSNumber; reject fractions, negatives and out-of-range values.
        guard let number = value as? NSNumber,
              let integer = Int(exactly: number.doubleValue), integer >= 0,
              number.doubleValue < 9.0e15
        else {
            throw WeightsError.badHeader(path: path, detail: "\(what) is not a non-negative integer")
        }
        return integer
    }

    private static func checkedByteCount(shape: [Int], dtype: SafeTensorsDType) -> Int? {
        var count = dtype.byteSize
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    private static func checkNoOverlap(_ entries: Dictionary<String, SafeTensorsEntry>.Values, path: String) throws {
        let sorted = entries.filter { !$0.dataRange.isEmpty }.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.dataRange.lowerBound < previous.dataRange.upperBound {
            throw WeightsError.badHeader(path: path, detail: "tensors '\(previous.name)' and '\(next.name)' overlap")
        }
    }
}
