import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct NormalizationTests {
    @Test func groupNormMatchesTorch() throws {
        // F.group_norm(x, 4, w, b, eps=1e-6), x = randn(2, 8, 5, 3) * 3 + 10
        let x = try OpFixtures.tensor("group_norm.x")
        let (weight, bias) = (try OpFixtures.tensor("group_norm.weight"), try OpFixtures.tensor("group_norm.bias"))
        expectClose(groupNorm(x, groups: 4, weight: weight, bias: bias, eps: 1e-6),
                    try OpFixtures.tensor("group_norm.out"))
        // F.silu(F.group_norm(x, 4, w, b, eps=1e-6))
        expectClose(groupNorm(x, groups: 4, weight: weight, bias: bias, eps: 1e-6, fusedSiLU: true),
                    try OpFixtures.tensor("group_norm.out_silu"))
    }

    @Test func groupNormWithoutAffineMatchesTorch() throws {
        // F.group_norm(x, 2, eps=1e-5), x [2, 6, 4, 4]
        let out = groupNorm(try OpFixtures.tensor("group_norm_plain.x"), groups: 2, weight: nil, bias: nil)
        expectClose(out, try OpFixtures.tensor("group_norm_plain.out"))
    }

    @Test func layerNormMatchesTorch() throws {
        // F.layer_norm(x, (37,), w, b, eps=1e-5), x = randn(2, 5, 37) + 3
        let out = layerNorm(try OpFixtures.tensor("layer_norm.x"), weight: try OpFixtures.tensor("layer_norm.weight"),
                            bias: try OpFixtures.tensor("layer_norm.bias"))
        expectClose(out, try OpFixtures.tensor("layer_norm.out"))
    }
}
