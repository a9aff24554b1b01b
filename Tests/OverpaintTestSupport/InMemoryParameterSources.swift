import Tensors
import Weights

/// Named tensors held in memory as a parameter source, to build checkpoints with something
/// missing, extra or mis-shaped.
public struct InMemoryParameterSource: ParameterSource {
    public let path: String
    public var tensors: [String: Tensor]
    public var keys: [String] { tensors.keys.sorted() }

    public init(tensors: [String: Tensor], path: String = "memory") {
        self.tensors = tensors
        self.path = path
    }

    public func shape(of name: String) throws -> [Int] { try tensor(named: name).shape }

    public func tensor(named name: String) throws -> Tensor {
        guard let tensor = tensors[name] else { throw WeightsError.missingTensor(path: path, tensor: name) }
        return tensor
    }
}

/// Zeros of the given shapes as a parameter source: loads a model's layout (a layout fixture's
/// names and shapes) without its weights.
public struct ZeroParameterSource: ParameterSource {
    public let path: String
    public let shapes: [String: [Int]]
    public var keys: [String] { shapes.keys.sorted() }

    public init(shapes: [String: [Int]], path: String) {
        self.shapes = shapes
        self.path = path
    }

    public func shape(of name: String) throws -> [Int] {
        guard let shape = shapes[name] else { throw WeightsError.missingTensor(path: path, tensor: name) }
        return shape
    }

    public func tensor(named name: String) throws -> Tensor { Tensor(zeros: try shape(of: name)) }
}
