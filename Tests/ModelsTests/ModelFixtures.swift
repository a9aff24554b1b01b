import Foundation
import Testing
import Tensors
import Weights
@testable import Models

/// Fixtures under Tests/Fixtures/<area>/, found from this file's path.
enum ModelFixtures {
    static func url(_ area: String, _ name: String) -> URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Tests/Fixtures/\(area)/\(name)")
    }

    /// A safetensors fixture file as a parameter source.
    static func store(_ area: String, _ name: String) throws -> WeightStore {
        try WeightStore(url: url(area, name))
    }

    /// Every tensor of a safetensors fixture, by name.
    static func tensors(_ area: String, _ name: String) throws -> [String: Tensor] {
        let store = try store(area, name)
        var tensors: [String: Tensor] = [:]
        for key in store.keys { tensors[key] = try store.tensor(named: key) }
        return tensors
    }
}

/// The largest `|actual - expected| / (|expected| + floor)`; infinity for a NaN or a shape mismatch.
func relativeError(_ actual: Tensor, _ expected: Tensor, floor: Float = 1e-2) -> Float {
    guard actual.shape == expected.shape else { return .infinity }
    var worst: Float = 0
    for (a, e) in zip(actual.scalars, expected.scalars) {
        let error = abs(a - e) / (abs(e) + floor)
        if error.isNaN { return .infinity }
        worst = max(worst, error)
    }
    return worst
}

/// Expects the same shape and every scalar within `tolerance * (|expected| + 1e-2)`; a NaN fails.
func expectClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-4, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == expected.shape, "shape \(actual.shape) != \(expected.shape)", sourceLocation: sourceLocation)
    let error = relativeError(actual, expected)
    #expect(error <= tolerance, "relative error \(error)", sourceLocation: sourceLocation)
}
