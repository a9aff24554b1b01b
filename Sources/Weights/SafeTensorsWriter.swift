import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// A tensor whose values are produced while it is written, a block at a time, so that a
/// multi-gigabyte checkpoint never sits in memory.
public struct StreamedTensor: Sendable {
    public let name: String
    public let shape: [Int]
    /// Writes elements `start ..< start + values.count` (row-major) into `values`. Called
    /// concurrently for disjoint ranges, so it must be a pure function of the range.
    public let fill: @Sendable (_ start: Int, _ values: UnsafeMutableBufferPointer<Float>) -> Void

    public init(name: String, shape: [Int],
                fill: @escaping @Sendable (_ start: Int, _ values: UnsafeMutableBufferPointer<Float>) -> Void) {
        self.name = name
        self.shape = shape
        self.fill = fill
    }

    /// A tensor already in memory.
    public init(name: String, tensor: Tensor) {
        self.init(name: name, shape: tensor.shape) { start, values in
            tensor.scalars.withUnsafeBufferPointer { scalars in
                for index in values.indices { values[index] = scalars[start + index] }
            }
        }
    }

    var count: Int { shape.reduce(1, *) }
}

/// Writes tensors as a `.safetensors` file (used to make random-weight models and fixtures).
///
/// Tensors are laid out in name order with contiguous offsets and the header padded with spaces to
/// a multiple of 8 bytes, as the reference `safetensors` package does. The file is written to a
/// temporary name in the same folder and renamed into place, so a failed write leaves nothing behind.
public enum SafeTensorsWriter {
    /// How values are stored; f16 and bf16 round to nearest, ties to even (as torch's `.to()`).
    public enum StorageType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"

        var byteSize: Int { self == .f32 ? 4 : 2 }
    }

    /// Elements produced, converted and written per step: 16 MB of f32, whatever the tensor size.
    static let blockElements = 1 << 22

    public static func write(
        _ tensors: [String: Tensor], dtype: StorageType = .f32, metadata: [String: String] = [:], to url: URL
    ) throws {
        try write(streaming: tensors.map { StreamedTensor(name: $0.key, tensor: $0.value) }, dtype: dtype,
                  metadata: metadata, to: url)
    }

    /// Writes tensors whose values are generated block by block (threaded), in name order.
    public static func write(
        streaming tensors: [StreamedTensor], dtype: StorageType = .f32, metadata: [String: String] = [:], to url: URL
    ) throws {
        let ordered = tensors.sorted { $0.name < $1.name }
        let header = try headerBytes(ordered, dtype: dtype, metadata: metadata, path: url.path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        do {
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw WeightsError.writeFailed(path: url.path, reason: "cannot create \(temporary.lastPathComponent)")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            var length = UInt64(header.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: header)
            try writeData(ordered, dtype: dtype, to: handle)
            try handle.synchronize()
            guard rename(temporary.path, url.path) == 0 else {
                throw WeightsError.writeFailed(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch let error as WeightsError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw WeightsError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }

    private static func writeData(_ tensors: [StreamedTensor], dtype: StorageType, to handle: FileHandle) throws {
        var values = [Float](repeating: 0, count: blockElements)
        var bytes = Data(count: blockElements * dtype.byteSize)
        for tensor in tensors {
            let count = tensor.count
            var start = 0
            while start < count {
                let length = min(blockElements, count - start)
                values.withUnsafeMutableBufferPointer { values in
                    bytes.withUnsafeMutableBytes { bytes in
                        fillAndEncode(tensor, start: start, values: UnsafeMutableBufferPointer(rebasing: values[0 ..< length]),
                                      into: bytes, dtype: dtype)
                    }
                }
                try handle.write(contentsOf: bytes.prefix(length * dtype.byteSize))
                start += length
            }
        }
    }

    /// Produces one block on every thread and stores it little-endian in `bytes`.
    private static func fillAndEncode(_ tensor: StreamedTensor, start: Int, values: UnsafeMutableBufferPointer<Float>,
                                      into bytes: UnsafeMutableRawBufferPointer, dtype: StorageType) {
        nonisolated(unsafe) let values = values
        nonisolated(unsafe) let bytes = bytes
        Parallel.forEachRange(count: values.count, minimumBlock: 65_536) { range in
            let slice = UnsafeMutableBufferPointer(rebasing: values[range])
            tensor.fill(start + range.lowerBound, slice)
            switch dtype {
            case .f32:
                let out = bytes.baseAddress.map { $0.assumingMemoryBound(to: UInt32.self) }
                for index in range { out?[index] = values[index].bitPattern.littleEndian }
            case .f16, .bf16:
                guard let out = bytes.baseAddress?.assumingMemoryBound(to: UInt16.self) else { return }
                HalfTensor.narrow(UnsafeBufferPointer(slice), to: dtype == .f16 ? .f16 : .bf16, into: out + range.lowerBound)
            }
        }
    }

    private static func headerBytes(
        _ tensors: [StreamedTensor], dtype: StorageType, metadata: [String: String], path: String
    ) throws -> Data {
        var object: [String: Any] = [:]
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var offset = 0
        for tensor in tensors {
            guard object[tensor.name] == nil else {
                throw WeightsError.writeFailed(path: path, reason: "tensor '\(tensor.name)' given twice")
            }
            let size = tensor.count * dtype.byteSize
            object[tensor.name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw WeightsError.writeFailed(path: path, reason: "header: \(error.localizedDescription)")
        }
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        return json
    }
}
