import OverpaintTestSupport
@testable import Tensors

/// The torch outputs written by tools/reference/tensor_fixtures.py.
enum OpFixtures {
    private static let all = Result { try Fixtures.tensors("tensors", "ops.safetensors") }

    /// The tensor named `name` ("<case>.<role>") in Tests/Fixtures/tensors/ops.safetensors.
    static func tensor(_ name: String) throws -> Tensor {
        guard let tensor = try all.get()[name] else { throw FixtureError("no tensor \(name) in ops.safetensors") }
        return tensor
    }
}
