import Tensors
import Weights

/// A model component's weights with some tensors replaced by fused private copies; every other
/// tensor is read from `base` as before (still memory-mapped, still half-size where stored so).
public struct FusedParameterSource: ParameterSource {
    private let base: any ParameterSource
    private let replacements: [String: WeightTensor]

    public var path: String { base.path }
    public var keys: [String] { base.keys }

    init(base: any ParameterSource, replacements: [String: WeightTensor]) {
        self.base = base
        self.replacements = replacements
    }

    /// The names of the fused tensors.
    public var fusedKeys: [String] { replacements.keys.sorted() }

    public func shape(of name: String) throws -> [Int] {
        try replacements[name]?.shape ?? base.shape(of: name)
    }

    public func tensor(named name: String) throws -> Tensor {
        try replacements[name]?.floatTensor() ?? base.tensor(named: name)
    }

    public func halfTensor(named name: String) throws -> HalfTensor? {
        switch replacements[name] {
        case let .half(tensor)?: tensor
        case .float?: nil
        case nil: try base.halfTensor(named: name)
        }
    }
}
