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

    @Test(arguments: ["matmul", "bmm", "matmul_shared"], GEMMBackend.float32Cases)
    func matmulMatchesTorch(name: String, backend: GEMMBackend) throws {
        // torch.matmul(a, b): [3, 4] x [4, 5]; [2, 3, 4] x [2, 4, 5]; [2, 3, 4] x [4, 5]
        let out = try GEMMBackend.withBackend(backend) {
            matmul(try OpFixtures.tensor("\(name).a"), try OpFixtures.tensor("\(name).b"))
        }
        expectClose(out, try OpFixtures.tensor("\(name).out"))
    }
}
