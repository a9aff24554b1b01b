import Foundation
import Imaging
import Tensors
import Testing
import Weights

/// The package's committed test data: Tests/Fixtures/<area>/<name>, written by the scripts of
/// tools/reference/ and found from this file's path, so tests run from any working directory.
public enum Fixtures {
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    public static let root = packageRoot.appendingPathComponent("Tests/Fixtures")

    public static func url(_ area: String, _ name: String) -> URL {
        root.appendingPathComponent(area).appendingPathComponent(name)
    }

    public static func data(_ area: String, _ name: String) throws -> Data {
        try Data(contentsOf: url(area, name))
    }

    /// An image fixture, decoded.
    public static func image(_ area: String, _ name: String) throws -> Image {
        try ImageFile.read(url(area, name))
    }

    /// A fixture holding one JSON object.
    public static func json(_ area: String, _ name: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data(area, name)) as? [String: Any] else {
            throw FixtureError("\(area)/\(name) does not hold a JSON object")
        }
        return object
    }

    /// Every tensor of a safetensors fixture, by name, widened to f32.
    public static func tensors(_ area: String, _ name: String) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(url: url(area, name))
        var tensors: [String: Tensor] = [:]
        for key in file.keys { tensors[key] = try file.tensor(named: key) }
        return tensors
    }

    /// A safetensors fixture file as a parameter source.
    public static func store(_ area: String, _ name: String) throws -> WeightStore {
        try WeightStore(url: url(area, name))
    }

    /// One recipe of recipes/, by its name without `.yaml`.
    public static func recipe(_ name: String) -> URL {
        packageRoot.appendingPathComponent("recipes/\(name).yaml")
    }
}

/// The tensors of one safetensors fixture, each asked for by name: one the file lacks fails
/// the test, naming it and the file.
public struct FixtureTensors: Sendable {
    public let all: [String: Tensor]
    private let file: String

    public init(_ area: String, _ name: String) throws {
        all = try Fixtures.tensors(area, name)
        file = name
    }

    public func tensor(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Tensor {
        try #require(all[name], "no \(name) in \(file)", sourceLocation: sourceLocation)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
