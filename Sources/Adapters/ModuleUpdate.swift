import Tensors
import Weights

/// The weight update one adapter module makes, before the user's weight: ΔW as an
/// `[out, in * kernel]` matrix, already multiplied by the module's `alpha / rank`.
///
/// The formulas are each format's own:
/// - LoRA / LoCon (kohya, PEFT): `up @ down * alpha / rank`, rank = `down.shape[0]`, alpha = rank when
///   the file stores none (kohya's `.alpha`, or PEFT's `lora_alpha`).
/// - LoHa (LyCORIS `functional/loha.py`): `(w1_a @ w1_b) ⊙ (w2_a @ w2_b) * alpha / rank`,
///   rank = `w1_b.shape[0]`.
/// - LoKr (LyCORIS `functional/lokr.py` `diff_weight`): `w1 ⊗ w2 * alpha / rank`, each factor whole
///   or the product of its `_a` and `_b`; rank = `w1_a.shape[1]`, else `w2_a.shape[1]`, and the scale
///   is 1 when both factors are whole.
///
/// Limitations: Tucker-decomposed convolutions (`lora_mid`, `hada_t1` / `hada_t2`, `lokr_t2`) are refused.
struct ModuleUpdate {
    let module: AdapterModule
    let source: any ParameterSource
    /// `lora_alpha` from the file's metadata where the layout keeps it there (PEFT), for modules
    /// without an `alpha` tensor.
    let defaultAlpha: Float?

    // weightShape: the model's [out, in] or [out, in, kh, kw] -> [out, in * kh * kw]
    func delta(weightShape: [Int]) throws -> Tensor {
        let out = weightShape[0], columns = weightShape.dropFirst().reduce(1, *)
        let delta: Tensor
        switch module.algorithm {
        case .lora: delta = try lora()
        case .loha: delta = try loha()
        case .lokr: delta = try lokr()
        }
        guard delta.shape == [out, columns] else {
            throw bad("makes an update of \(delta.shape[0]) x \(delta.shape[1]) for a weight of shape \(weightShape)")
        }
        return delta
    }

    private func lora() throws -> Tensor {
        try refuseTucker("lora_mid.weight")
        let down = try matrix("lora_down.weight"), up = try matrix("lora_up.weight")
        let rank = down.shape[0]
        guard up.shape[1] == rank else { throw bad("lora_up has \(up.shape[1]) columns, lora_down \(rank) rows") }
        return matmul(up, down) * (try alpha(rank: rank) / Float(rank))
    }

    private func loha() throws -> Tensor {
        try refuseTucker("hada_t1")
        try refuseTucker("hada_t2")
        let first = try product("hada_w1_a", "hada_w1_b"), second = try product("hada_w2_a", "hada_w2_b")
        guard first.shape == second.shape else { throw bad("hada_w1 makes \(first.shape), hada_w2 \(second.shape)") }
        let rank = try shape("hada_w1_b")[0]
        return first * second * (try alpha(rank: rank) / Float(rank))
    }

    private func lokr() throws -> Tensor {
        try refuseTucker("lokr_t1")
        try refuseTucker("lokr_t2")
        let first = try factor("lokr_w1"), second = try factor("lokr_w2")
        let rank: Int? = try module.parts["lokr_w1_a"].map { _ in try shape("lokr_w1_a")[1] }
            ?? module.parts["lokr_w2_a"].map { _ in try shape("lokr_w2_a")[1] }
        let scale = try rank.map { try alpha(rank: $0) / Float($0) } ?? 1
        return kronecker(first, second) * scale
    }

    /// `name` when the file has it whole, else `name_a @ name_b`.
    private func factor(_ name: String) throws -> Tensor {
        module.parts[name] != nil ? try matrix(name) : try product(name + "_a", name + "_b")
    }

    private func product(_ left: String, _ right: String) throws -> Tensor {
        let a = try matrix(left), b = try matrix(right)
        guard a.shape[1] == b.shape[0] else { throw bad("\(left) is \(a.shape), \(right) is \(b.shape)") }
        return matmul(a, b)
    }

    /// A part as a matrix: its first axis by all the others.
    private func matrix(_ role: String) throws -> Tensor {
        let tensor = try source.tensor(named: key(role))
        let rows = tensor.shape.first ?? 1
        return tensor.reshaped([rows, tensor.count / Swift.max(1, rows)])
    }

    private func shape(_ role: String) throws -> [Int] { try source.shape(of: key(role)) }

    private func key(_ role: String) throws -> String {
        guard let key = module.parts[role] else { throw bad("no \(role)") }
        return key
    }

    private func alpha(rank: Int) throws -> Float {
        guard module.parts["alpha"] != nil else { return defaultAlpha ?? Float(rank) }
        let alpha = try source.tensor(named: key("alpha"))
        guard alpha.count == 1 else { throw bad("alpha has \(alpha.count) values") }
        return alpha.scalars[0]
    }

    private func refuseTucker(_ role: String) throws {
        if module.parts[role] != nil {
            throw AdapterError.unsupported(path: source.path, module: module.name, detail: "a Tucker-decomposed update (\(role))")
        }
    }

    /// DoRA's magnitude (`dora_scale`), when the module is weight-decomposed.
    func magnitude() throws -> Tensor? {
        try module.parts["dora_scale"].map { try source.tensor(named: $0) }
    }

    func bad(_ detail: String) -> AdapterError {
        AdapterError.badModule(path: source.path, module: module.name, detail: detail)
    }
}

/// torch.kron of two matrices: `[a, c] ⊗ [b, d] -> [a * b, c * d]`. A convolution's factor `w2`
/// `[b, d, kh, kw]` seen as `[b, d * kh * kw]` gives LyCORIS' 4-d product flattened the same way.
func kronecker(_ first: Tensor, _ second: Tensor) -> Tensor {
    let (a, c) = (first.shape[0], first.shape[1]), (b, d) = (second.shape[0], second.shape[1])
    return Tensor(shape: [a * b, c * d]) { out in
        for i in 0..<a {
            for j in 0..<b {
                let row = (i * b + j) * c * d
                for p in 0..<c {
                    let scale = first.scalars[i * c + p]
                    for q in 0..<d { out[row + p * d + q] = scale * second.scalars[j * d + q] }
                }
            }
        }
    }
}
