import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct LinearTests {
    @Test(arguments: GEMMBackend.float32Cases)
    func linearWithBiasMatchesTorch(backend: GEMMBackend) throws {
        // F.linear(x, w, b), x [2, 3, 5], w [7, 5]
        let out = try GEMMBackend.withBackend(backend) {
            linear(try OpFixtures.tensor("linear.x"), weight: try OpFixtures.tensor("linear.weight"),
                   bias: try OpFixtures.tensor("linear.bias"))
        }
        expectClose(out, try OpFixtures.tensor("linear.out"))
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func linearWithoutBiasMatchesTorch(backend: GEMMBackend) throws {
        // F.linear(x, w), x [4, 6], w [3, 6]
        let out = try GEMMBackend.withBackend(backend) {
            linear(try OpFixtures.tensor("linear_nobias.x"), weight: try OpFixtures.tensor("linear_nobias.weight"))
        }
        expectClose(out, try OpFixtures.tensor("linear_nobias.out"))
    }

    /// A residual summed where the product accumulates equals the product plus the residual,
    /// with and without a bias, for f32 and f16 weights.
    @Test(arguments: GEMMBackend.float32Cases)
    func linearAddingAResidualEqualsLinearPlusTheResidual(backend: GEMMBackend) throws {
        let x = try OpFixtures.tensor("linear.x")
        let weight = try OpFixtures.tensor("linear.weight")
        let half = WeightTensor.half(HalfTensor(shape: weight.shape, format: .f16,
                                                bitPatterns: weight.scalars.map { Float16($0).bitPattern }))
        let residual = Tensor(shape: [2, 3, 7], scalars: (0..<42).map { Float($0 % 11) * 0.25 - 1 })
        for storedWeight in [WeightTensor.float(weight), half] {
            for bias in [try OpFixtures.tensor("linear.bias"), nil] {
                let (fused, separate) = GEMMBackend.withBackend(backend) {
                    (linear(x, weight: storedWeight, bias: bias, adding: residual),
                     linear(x, weight: storedWeight, bias: bias) + residual)
                }
                expectClose(fused, separate, relative: 1e-6, absolute: 1e-6)
            }
        }
    }

    @Test(arguments: ["matmul", "bmm", "matmul_shared"], GEMMBackend.float32Cases)
    func matmulMatchesTorch(name: String, backend: GEMMBackend) throws {
        // torch.matmul(a, b): [3, 4] x [4, 5]; [2, 3, 4] x [2, 4, 5]; [2, 3, 4] x [4, 5]
        let out = try GEMMBackend.withBackend(backend) {
            matmul(try OpFixtures.tensor("\(name).a"), try OpFixtures.tensor("\(name).b"))
        }
        expectClose(out, try OpFixtures.tensor("\(name).out"))
    }
}
