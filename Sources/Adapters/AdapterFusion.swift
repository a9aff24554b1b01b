import Tensors
import Weights

/// One adapter file and how strongly to apply it: diffusers' `fuse_lora(lora_scale: weight)`,
/// A1111's `<lora:name:weight>`.
public struct WeightedAdapter: Sendable {
    public let file: AdapterFile
    public let weight: Float

    public init(file: AdapterFile, weight: Float) {
        self.file = file
        self.weight = weight
    }
}

/// Fuses adapters into a model's weights, once, before the model is built from them:
/// `W += weight * ΔW` for each adapted module (`ModuleUpdate` has each format's ΔW), the files
/// applied in order, so several stack.
///
/// Only the adapted tensors are copied: each fused weight is a private copy in the precision the
/// checkpoint stores (f16 stays f16, rounded once after all adapters are added), everything else is
/// read from the mapped files as before.
///
/// DoRA (`dora_scale` / PEFT's `lora_magnitude_vector`, a magnitude `m` per output row or per
/// input channel, whichever its shape has) follows the DoRA paper (Liu et al. 2024, eq. 5):
/// `W' = m * V / ||V||` with `V = W + weight * ΔW`, the norm taken per row or per input channel
/// as `m` is laid out; the user's weight scales ΔW, as PEFT's merge does.
public enum AdapterFusion {
    /// `components` with every adapter fused in. Throws, naming the file and the keys, when a file
    /// adapts a module (or a component) the model does not have.
    public static func fuse(
        _ adapters: [WeightedAdapter], into components: [AdapterComponent: any ParameterSource]
    ) throws -> [AdapterComponent: any ParameterSource] {
        let targets = try plan(adapters, components: components)
        var fused = components
        for (component, updates) in targets {
            guard let base = components[component] else { continue }
            fused[component] = FusedParameterSource(base: base, replacements: try fusedWeights(updates, of: base))
        }
        return fused
    }

    /// For each component, each adapted weight key and the updates to add to it, in file order.
    static func plan(
        _ adapters: [WeightedAdapter], components: [AdapterComponent: any ParameterSource]
    ) throws -> [AdapterComponent: [String: [(update: ModuleUpdate, weight: Float)]]] {
        let indexes = components.reduce(into: [AdapterComponent: ModuleIndex]()) { indexes, entry in
            indexes[entry.key] = ModuleIndex(keys: entry.value.keys, component: entry.key)
        }
        var targets: [AdapterComponent: [String: [(update: ModuleUpdate, weight: Float)]]] = [:]
        for adapter in adapters {
            var unmatched: [String] = []
            for module in adapter.file.modules {
                guard let index = indexes[module.component] else {
                    throw AdapterError.missingComponent(path: adapter.file.path, component: module.component.rawValue)
                }
                guard let key = index.weightKey(for: module.name, component: module.component) else {
                    unmatched += module.parts.values
                    continue
                }
                let update = ModuleUpdate(module: module, source: adapter.file.file,
                                          defaultAlpha: adapter.file.loraAlpha(for: module.component))
                targets[module.component, default: [:]][key, default: []].append((update, adapter.weight))
            }
            guard unmatched.isEmpty else {
                let reported = AdapterError.reported(unmatched)
                throw AdapterError.unmatchedKeys(path: adapter.file.path, keys: reported.keys, count: reported.count)
            }
        }
        return targets
    }

    /// Every weight of `updates` fused, the modules spread over the threads (each reads its own
    /// tensors from the mapped files and writes its own copy); the first failure, in key order,
    /// is thrown.
    static func fusedWeights(
        _ updates: [String: [(update: ModuleUpdate, weight: Float)]], of base: any ParameterSource
    ) throws -> [String: WeightTensor] {
        let keys = updates.keys.sorted()
        var results = [Result<WeightTensor, any Error>?](repeating: nil, count: keys.count)
        results.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            Parallel.forEach(count: keys.count) { index in
                slots[index] = Result { try fusedWeight(keys[index], of: base, updates: updates[keys[index]] ?? []) }
            }
        }
        var fused: [String: WeightTensor] = [:]
        for (key, result) in zip(keys, results) { fused[key] = try result?.get() }
        return fused
    }

    /// The weight `key` of `base` with `updates` added, stored as `base` stores it.
    static func fusedWeight(
        _ key: String, of base: any ParameterSource, updates: [(update: ModuleUpdate, weight: Float)]
    ) throws -> WeightTensor {
        let stored = try base.halfTensor(named: key)
        var weight = try stored?.floatTensor() ?? base.tensor(named: key)
        let shape = weight.shape
        for (update, strength) in updates {
            let delta = try update.delta(weightShape: shape).reshaped(shape)
            if let magnitude = try update.magnitude() {
                weight = try decomposed(weight, delta: delta * strength, magnitude: magnitude, update: update)
            } else {
                weight += delta * strength
            }
        }
        guard let stored else { return .float(weight) }
        return .half(HalfTensor(narrowing: weight, to: stored.format))
    }

    /// DoRA's `m * V / ||V||`, `V = weight + delta`, normed along the axis `magnitude` is laid out on.
    // weight, delta: [out, in, ...]; magnitude: out values ([out], [out, 1, ...]) or in values ([1, in, ...])
    static func decomposed(_ weight: Tensor, delta: Tensor, magnitude: Tensor, update: ModuleUpdate) throws -> Tensor {
        var merged = weight + delta
        let out = weight.shape[0], inputs = weight.shape.count > 1 ? weight.shape[1] : 1
        let kernel = weight.count / Swift.max(1, out * inputs)
        let perOutput = magnitude.shape.first == out && magnitude.count == out
        guard perOutput || magnitude.count == inputs else {
            throw update.bad("dora_scale has shape \(magnitude.shape), the weight \(weight.shape)")
        }
        // Element (o, i, k) of the weight is at (o * inputs + i) * kernel + k.
        let channel: (Int) -> Int = perOutput ? { $0 / (inputs * kernel) } : { ($0 / kernel) % inputs }
        var squares = [Double](repeating: 0, count: perOutput ? out : inputs)
        for (index, value) in merged.scalars.enumerated() { squares[channel(index)] += Double(value) * Double(value) }
        let factors = zip(magnitude.scalars, squares).map { Float(Double($0) / $1.squareRoot()) }
        merged.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] *= factors[channel(index)] }
        }
        return merged
    }
}
