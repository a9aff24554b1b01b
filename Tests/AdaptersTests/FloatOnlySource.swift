import Tensors
import Weights

/// Another source's tensors, all widened to f32 (so a fused weight is kept exact, not rounded).
struct FloatOnlySource: ParameterSource {
    let base: any ParameterSource
    var path: String { base.path }
    var keys: [String] { base.keys }
    func shape(of name: String) throws -> [Int] { try base.shape(of: name) }
    func tensor(named name: String) throws -> Tensor { try base.tensor(named: name) }
}
