import Foundation
import Tensors
import Weights

/// The names a model has read from its checkpoint, shared by every scoped view of one load.
public final class UsedKeys: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []

    public init() {}

    func record(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        names.insert(name)
    }

    /// Every name recorded so far.
    public var all: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return names
    }
}

/// A checkpoint seen from one module's position in the model ("down_blocks.0.resnets.1").
///
/// Loading is strict, like torch's `load_state_dict(strict=True)`: each read checks presence
/// and shape, and the top-level model ends with `checkAllUsed()` so a checkpoint with
/// tensors the model never read is refused too.
public struct Parameters: Sendable {
    public let source: any ParameterSource
    /// The key prefix of this view, without the trailing dot ("" at the top).
    public let prefix: String
    public let used: UsedKeys

    public init(_ source: any ParameterSource, prefix: String = "", used: UsedKeys = UsedKeys()) {
        self.source = source
        self.prefix = prefix
        self.used = used
    }

    /// The view of a child module: `scoped("down_blocks.0")`.
    public func scoped(_ child: String) -> Parameters {
        Parameters(source, prefix: key(child), used: used)
    }

    /// The full checkpoint key of `name` under this view's prefix.
    public func key(_ name: String) -> String {
        prefix.isEmpty ? name : "\(prefix).\(name)"
    }

    /// Whether the checkpoint holds `name` (for optional tensors such as a conv bias).
    public func contains(_ name: String) -> Bool {
        (try? source.shape(of: key(name))) != nil
    }

    /// The tensor `name`, which must exist with exactly `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let fullKey = try checkedKey(name, shape: shape)
        return try source.tensor(named: fullKey).reshaped(shape)
    }

    /// A layer weight `name` with exactly `shape`, kept half-size when the checkpoint stores it
    /// as f16 or bf16 (the ops widen it a panel at a time), as f32 otherwise.
    public func weight(_ name: String, shape: [Int]) throws -> WeightTensor {
        let fullKey = try checkedKey(name, shape: shape)
        if let half = try source.halfTensor(named: fullKey) { return .half(half.reshaped(shape)) }
        return .float(try source.tensor(named: fullKey).reshaped(shape))
    }

    /// The stored shape of `name`, for architectures whose sizes come from the checkpoint.
    public func shape(of name: String) throws -> [Int] {
        do {
            return try source.shape(of: key(name))
        } catch {
            throw ModelsError.missingTensor(path: source.path, tensor: key(name))
        }
    }

    /// The full key of `name`, after checking it exists with `shape`; records it as read.
    private func checkedKey(_ name: String, shape: [Int]) throws -> String {
        let fullKey = key(name)
        let found = try self.shape(of: name)
        guard found == shape else {
            throw ModelsError.shapeMismatch(path: source.path, tensor: fullKey, expected: shape, found: found)
        }
        used.record(fullKey)
        return fullKey
    }

    /// Throws if the checkpoint holds tensors under this prefix that no module read, apart from
    /// `ignored` (names under this view of buffers the model knows it does not need, such as
    /// CLIP's `embeddings.position_ids`).
    public func checkAllUsed(ignoring ignored: Set<String> = []) throws {
        let read = used.all.union(ignored.map(key))
        let scope = prefix.isEmpty ? "" : prefix + "."
        let unexpected = source.keys.filter { $0.hasPrefix(scope) && !read.contains($0) }
        guard unexpected.isEmpty else {
            throw ModelsError.unexpectedTensors(
                path: source.path, tensors: Array(unexpected.prefix(ReportedNames.limit)), count: unexpected.count)
        }
    }
}
