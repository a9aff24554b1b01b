import Foundation
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models

/// A fresh folder under the temporary directory, removed by the caller.
private func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("overpaint-models-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Strict reads through `Parameters`: each tensor checked by name and shape, leftovers refused.
@Suite struct ParametersTests {
    static let shapes = ["a": [2, 3], "b": [4], "c": [1], "d": [1], "e": [1], "f": [1], "g": [1]]

    /// A safetensors file holding zeros of `shapes`, and its folder (to remove).
    func source() throws -> (SafeTensorsFile, URL) {
        let folder = try temporaryFolder()
        let url = folder.appendingPathComponent("m.safetensors")
        try SafeTensorsWriter.write(Self.shapes.mapValues { Tensor(zeros: $0) }, to: url)
        return (try SafeTensorsFile(url: url), folder)
    }

    @Test func acceptsAnExactMatch() throws {
        let (file, folder) = try source()
        defer { try? FileManager.default.removeItem(at: folder) }
        let parameters = Parameters(file)
        for (name, shape) in Self.shapes { #expect(try parameters.tensor(name, shape: shape).shape == shape) }
        try parameters.checkAllUsed()
    }

    @Test func reportsTheMissingTensor() throws {
        let (file, folder) = try source()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: ModelsError.missingTensor(path: file.path, tensor: "z")) {
            try Parameters(file).tensor("z", shape: [1])
        }
    }

    @Test func reportsShapeMismatchWithBothShapes() throws {
        let (file, folder) = try source()
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: ModelsError.shapeMismatch(path: file.path, tensor: "a", expected: [3, 2], found: [2, 3])) {
            try Parameters(file).tensor("a", shape: [3, 2])
        }
        #expect(error?.errorDescription?.contains("[2, 3], expected [3, 2]") == true)
    }

    @Test func reportsTheFirstFewUnexpectedTensorsAndHowMany() throws {
        let (file, folder) = try source()
        defer { try? FileManager.default.removeItem(at: folder) }
        let parameters = Parameters(file)
        _ = try parameters.tensor("a", shape: [2, 3])
        let error = #expect(throws: ModelsError.unexpectedTensors(path: file.path, tensors: ["b", "c", "d", "e", "f"], count: 6)) {
            try parameters.checkAllUsed()
        }
        #expect(error?.errorDescription?.hasSuffix("'f' and 1 more") == true)
        try parameters.checkAllUsed(ignoring: ["b", "c", "d", "e", "f", "g"])
    }
}

/// The text encoder loads its weights the way the UNet does, so a bad tensor in either
/// component folder is the same `ModelsError`, with the same one-line message naming the file
/// and the tensor.
@Suite struct StrictComponentLoadingTests {
    struct Component: Sendable, CustomTestStringConvertible {
        let fixture: String
        let weightsFile: String
        /// A tensor of the fixture's weights, and its shape there.
        let tensor: String
        let shape: [Int]
        let load: @Sendable (URL) throws -> Void

        var testDescription: String { fixture }
    }

    static let components = [
        Component(fixture: "clip-text/quick_gelu", weightsFile: "model.safetensors",
                  tensor: "text_model.encoder.layers.1.mlp.fc2.bias", shape: [32]) { _ = try CLIPTextModel(folder: $0) },
        Component(fixture: "unet/sd1", weightsFile: "diffusion_pytorch_model.safetensors",
                  tensor: "conv_out.bias", shape: [4]) { _ = try UNet2DConditionModel(folder: $0) },
    ]

    /// A copy of the component's fixture folder with `edit` applied to its weights; the
    /// folder and the path of its weights file.
    func editedCopy(_ component: Component, _ edit: (inout [String: Tensor]) -> Void) throws -> (URL, String) {
        let folder = try temporaryFolder()
        let original = Fixtures.url(component.fixture, "")
        try FileManager.default.copyItem(at: original.appendingPathComponent("config.json"),
                                         to: folder.appendingPathComponent("config.json"))
        var tensors = try Fixtures.tensors(component.fixture, component.weightsFile)
        #expect(tensors[component.tensor]?.shape == component.shape)
        edit(&tensors)
        let weights = folder.appendingPathComponent(component.weightsFile)
        try SafeTensorsWriter.write(tensors, to: weights)
        return (folder, weights.path)
    }

    @Test(arguments: components)
    func aMissingTensorIsNamedWithItsFile(component: Component) throws {
        let (folder, weights) = try editedCopy(component) { $0[component.tensor] = nil }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: ModelsError.missingTensor(path: weights, tensor: component.tensor)) {
            try component.load(folder)
        }
        #expect(error?.errorDescription == "\(weights): missing tensor '\(component.tensor)'")
    }

    @Test(arguments: components)
    func aMisShapedTensorIsNamedWithItsFileAndBothShapes(component: Component) throws {
        let wrong = component.shape.dropLast() + [component.shape[component.shape.count - 1] + 1]
        let (folder, weights) = try editedCopy(component) { $0[component.tensor] = Tensor(zeros: Array(wrong)) }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: ModelsError.shapeMismatch(path: weights, tensor: component.tensor,
                                                              expected: component.shape, found: Array(wrong))) {
            try component.load(folder)
        }
        #expect(error?.errorDescription == "\(weights): tensor '\(component.tensor)' has shape \(Array(wrong)), expected \(component.shape)")
    }
}
