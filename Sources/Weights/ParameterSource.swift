import Tensors

/// Named tensors, however stored: one safetensors file, a sharded set, or a renamed view of either.
public protocol ParameterSource: Sendable {
    /// Where the tensors come from, for error messages.
    var path: String { get }
    /// Every tensor name, sorted.
    var keys: [String] { get }
    /// The shape of a tensor, without reading its data.
    func shape(of name: String) throws -> [Int]
    /// The tensor's values as f32.
    func tensor(named name: String) throws -> Tensor
    /// The tensor as stored when that is f16 or bf16 (read in place, not widened), nil otherwise.
    func halfTensor(named name: String) throws -> HalfTensor?
}

extension ParameterSource {
    /// Sources that hold no half-precision data widen everything to f32.
    public func halfTensor(named name: String) throws -> HalfTensor? { nil }
}

/// A per-tensor change applied while renaming checkpoint keys (diffusers' conversion does the same).
public enum TensorTransform: Sendable, Equatable {
    case identity
    /// A 1x1 convolution weight `[out, in, 1, 1]` (or `[out, in, 1]`) used as a linear weight `[out, in]`.
    case dropTrailingUnitDimensions
    /// Rows `index * n / count ..< (index + 1) * n / count` of a `[n, ...]` tensor, e.g. q, k or v of
    /// OpenCLIP's fused `in_proj_weight`.
    case rowChunk(index: Int, count: Int)
    /// A `[a, b]` matrix as `[b, a]`: OpenCLIP's `text_projection` (applied as `x @ P`) as a
    /// linear weight.
    case transposed

    func shape(from shape: [Int]) -> [Int] {
        switch self {
        case .identity:
            return shape
        case .dropTrailingUnitDimensions:
            var result = shape
            while result.count > 2, result.last == 1 { result.removeLast() }
            return result
        case let .rowChunk(_, count):
            guard let rows = shape.first else { return shape }
            return [rows / count] + shape.dropFirst()
        case .transposed:
            return shape.count == 2 ? [shape[1], shape[0]] : shape
        }
    }

    /// Whether a half-precision tensor can be transformed in place; a transposed one is widened.
    var keepsHalfPrecision: Bool { self != .transposed }

    func apply(_ tensor: HalfTensor) -> HalfTensor {
        let newShape = shape(from: tensor.shape)
        switch self {
        case .identity, .dropTrailingUnitDimensions:
            return tensor.reshaped(newShape)
        case let .rowChunk(index, _):
            return tensor.rows(index * newShape[0] ..< (index + 1) * newShape[0])
        case .transposed:
            preconditionFailure("a transposed tensor is widened (keepsHalfPrecision)")
        }
    }

    func apply(_ tensor: Tensor) -> Tensor {
        let newShape = shape(from: tensor.shape)
        switch self {
        case .identity, .dropTrailingUnitDimensions:
            return tensor.reshaped(newShape)
        case let .rowChunk(index, _):
            let length = newShape.reduce(1, *)
            return Tensor(shape: newShape, scalars: Array(tensor.scalars[index * length ..< (index + 1) * length]))
        case .transposed:
            return tensor.shape.count == 2 ? tensor.transposed(0, 1) : tensor
        }
    }
}

/// What a renaming rule says about one checkpoint key.
public enum KeyRename: Sendable, Equatable {
    /// The key becomes these tensors (usually one; a fused tensor may become several).
    case tensors([RenamedTensor])
    /// The key is known and deliberately unused (e.g. CLIP's `position_ids` buffer).
    case ignored
    /// The rule does not know the key; it stays under its own name so a strict load reports it.
    case unknown
}

public struct RenamedTensor: Sendable, Equatable {
    public let name: String
    public let transform: TensorTransform

    public init(_ name: String, _ transform: TensorTransform = .identity) {
        self.name = name
        self.transform = transform
    }
}

/// A view of another source under new names (e.g. an LDM single file seen with diffusers names).
public struct RenamedParameterSource: ParameterSource {
    private let base: any ParameterSource
    private let origins: [String: (source: String, transform: TensorTransform)]
    public let keys: [String]

    public var path: String { base.path }

    /// `rename` is applied to each key of `base` that passes `include`.
    public init(_ base: any ParameterSource, include: (String) -> Bool = { _ in true }, rename: (String) -> KeyRename) {
        var origins: [String: (source: String, transform: TensorTransform)] = [:]
        for key in base.keys where include(key) {
            switch rename(key) {
            case let .tensors(targets):
                for target in targets { origins[target.name] = (key, target.transform) }
            case .ignored:
                continue
            case .unknown:
                origins[key] = (key, .identity)
            }
        }
        self.base = base
        self.origins = origins
        keys = origins.keys.sorted()
    }

    public func shape(of name: String) throws -> [Int] {
        let origin = try self.origin(of: name)
        return origin.transform.shape(from: try base.shape(of: origin.source))
    }

    public func tensor(named name: String) throws -> Tensor {
        let origin = try self.origin(of: name)
        return origin.transform.apply(try base.tensor(named: origin.source))
    }

    public func halfTensor(named name: String) throws -> HalfTensor? {
        let origin = try self.origin(of: name)
        guard origin.transform.keepsHalfPrecision else { return nil }
        return try base.halfTensor(named: origin.source).map(origin.transform.apply)
    }

    /// The key in the underlying checkpoint that a renamed tensor comes from.
    public func sourceKey(of name: String) throws -> String { try origin(of: name).source }

    private func origin(of name: String) throws -> (source: String, transform: TensorTransform) {
        guard let origin = origins[name] else { throw WeightsError.missingTensor(path: path, tensor: name) }
        return origin
    }
}
