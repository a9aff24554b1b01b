import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

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

    public static func write(
        _ tensors: [String: Tensor], dtype: StorageType = .f32, metadata: [String: String] = [:], to url: URL
    ) throws {
        let names = tensors.keys.sorted()
        let header = try headerBytes(names: names, tensors: tensors, dtype: dtype, metadata: metadata, path: url.path)
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
            for name in names {
                if let tensor = tensors[name] { try handle.write(contentsOf: encode(tensor.scalars, as: dtype)) }
            }
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

    private static func headerBytes(
        names: [String], tensors: [String: Tensor], dtype: StorageType, metadata: [String: String], path: String
    ) throws -> Data {
        var object: [String: Any] = [:]
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            guard let tensor = tensors[name] else { continue }
            let size = tensor.count * dtype.byteSize
            object[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + size]] as [String: Any]
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

    private static func encode(_ scalars: [Float], as dtype: StorageType) -> Data {
        switch dtype {
        case .f32:
            return scalars.withUnsafeBytes { Data($0) }
        case .f16:
            return scalars.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { Data($0) }
        case .bf16:
            return scalars.map { bfloat16Bits($0).littleEndian }.withUnsafeBytes { Data($0) }
        }
    }

    /// Rounds to the nearest bf16, ties to even; NaNs stay quiet NaNs.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}
