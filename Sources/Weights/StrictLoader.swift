import Tensors

/// Loads a model's parameters only when the checkpoint matches the model exactly.
///
/// Given the model's expected `[name: shape]`, every expected tensor must be present with that
/// shape and the checkpoint must hold nothing else (the equivalent of torch's `strict=True`),
/// checked from the headers before any tensor is read.
public struct StrictLoader: Sendable {
    public let source: any ParameterSource
    public let expected: [String: [Int]]

    /// How many unexpected names an error message lists.
    static let reportedNameLimit = 5

    public init(source: any ParameterSource, expected: [String: [Int]], ignoring ignored: Set<String> = []) throws {
        let present = Set(source.keys)
        for name in expected.keys.sorted() {
            guard present.contains(name) else {
                throw WeightsError.missingTensor(path: source.path, tensor: name)
            }
        }
        try Self.checkShapes(source: source, expected: expected)
        let unexpected = source.keys.filter { expected[$0] == nil && !ignored.contains($0) }
        if !unexpected.isEmpty {
            throw WeightsError.unexpectedTensors(
                path: source.path, tensors: Array(unexpected.prefix(Self.reportedNameLimit)), count: unexpected.count)
        }
        self.source = source
        self.expected = expected
    }

    private static func checkShapes(source: any ParameterSource, expected: [String: [Int]]) throws {
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            let found = try source.shape(of: name)
            if found != shape {
                throw WeightsError.shapeMismatch(path: source.path, tensor: name, expected: shape, found: found)
            }
        }
    }

    /// One expected tensor.
    public func tensor(named name: String) throws -> Tensor {
        guard expected[name] != nil else { throw WeightsError.missingTensor(path: source.path, tensor: name) }
        return try source.tensor(named: name)
    }

    /// Every expected tensor, by name.
    public func loadAll() throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for name in expected.keys { tensors[name] = try source.tensor(named: name) }
        return tensors
    }
}
