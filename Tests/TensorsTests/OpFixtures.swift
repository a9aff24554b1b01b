import Foundation
import Testing
@testable import Tensors

/// The torch outputs written by tools/reference/tensor_fixtures.py, read from a minimal
/// float32-only safetensors reader (the Weights module owns the real one).
enum OpFixtures {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The tensor named `name` ("<case>.<role>") in Tests/Fixtures/tensors/ops.safetensors.
    static func tensor(_ name: String) throws -> Tensor {
        guard let tensor = try all()[name] else { throw Missing(description: "no tensor \(name) in ops.safetensors") }
        return tensor
    }

    private static func all() throws -> [String: Tensor] {
        let data = try Data(contentsOf: fixtureURL())
        guard data.count >= 8 else { throw Missing(description: "ops.safetensors is truncated") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = data.subdata(in: 8..<(8 + headerLength))
        guard let entries = try JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw Missing(description: "ops.safetensors header is not a JSON object")
        }
        let payload = data.subdata(in: (8 + headerLength)..<data.count)
        var tensors: [String: Tensor] = [:]
        for (name, entry) in entries where name != "__metadata__" {
            guard let entry = entry as? [String: Any], entry["dtype"] as? String == "F32",
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  offsets.count == 2 else {
                throw Missing(description: "\(name) is not a float32 tensor entry")
            }
            let bytes = payload.subdata(in: offsets[0]..<offsets[1])
            let scalars = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            tensors[name] = Tensor(shape: shape, scalars: scalars)
        }
        return tensors
    }

    private static func fixtureURL() -> URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("Tests/Fixtures/tensors/ops.safetensors")
    }
}

/// Expects the same shape and every scalar within `absolute + relative * |expected|`; a NaN fails.
func expectClose(
    _ actual: Tensor, _ expected: Tensor, relative: Float = 1e-4, absolute: Float = 1e-5,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    var worst = (index: 0, excess: -Float.infinity)
    for index in 0..<actual.count {
        let (a, e) = (actual.scalars[index], expected.scalars[index])
        let excess = a.isNaN || e.isNaN ? .infinity : abs(a - e) - (absolute + relative * abs(e))
        if excess > worst.excess { worst = (index, excess) }
    }
    #expect(worst.excess <= 0,
            "scalar \(worst.index): \(actual.scalars[worst.index]) vs \(expected.scalars[worst.index])",
            sourceLocation: sourceLocation)
}
