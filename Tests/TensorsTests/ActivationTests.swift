import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct ActivationTests {
    // x = cat(linspace(-12, 12, 301), randn(99) * 4).reshape(4, 100)
    @Test func siluMatchesTorch() throws {
        expectClose(silu(try OpFixtures.tensor("activations.x")), try OpFixtures.tensor("activations.silu"))
    }

    @Test func exactGELUMatchesTorch() throws {
        // F.gelu(x)
        expectClose(gelu(try OpFixtures.tensor("activations.x")), try OpFixtures.tensor("activations.gelu"))
    }

    @Test func tanhGELUMatchesTorch() throws {
        // F.gelu(x, approximate="tanh")
        expectClose(gelu(try OpFixtures.tensor("activations.x"), approximation: .tanh),
                    try OpFixtures.tensor("activations.gelu_tanh"))
    }

    @Test func quickGELUMatchesTorch() throws {
        // x * torch.sigmoid(1.702 * x)
        expectClose(quickGELU(try OpFixtures.tensor("activations.x")), try OpFixtures.tensor("activations.quick_gelu"))
    }

    @Test func gegluMatchesTorch() throws {
        // hidden, gate = x.chunk(2, dim=-1); hidden * F.gelu(gate), x = randn(2, 3, 74) * 3
        expectClose(geglu(try OpFixtures.tensor("geglu.x")), try OpFixtures.tensor("geglu.out"))
    }

    @Test func softmaxOfLargeLogitsMatchesTorch() throws {
        // torch.softmax(x, dim=-1), x = randn(5, 37) * 30 (naive exp would overflow)
        expectClose(softmax(try OpFixtures.tensor("softmax.x")), try OpFixtures.tensor("softmax.out"))
    }

    @Test func activationsLeaveACallersCopyAlone() throws {
        let x = try OpFixtures.tensor("activations.x")
        let before = x.scalars
        _ = silu(x)
        #expect(x.scalars == before)
    }

    /// GEGLU projected a block of rows at a time equals the projection then the gate, over
    /// more rows than one block holds (a ragged last block) and with an f16 weight.
    @Test(arguments: GEMMBackend.float32Cases)
    func gegluProjectedInBlocksEqualsProjectionThenGate(backend: GEMMBackend) {
        // 64 projected floats a row: blocks of 4096 rows, so 5,200 rows make two.
        let x = Tensor(shape: [2, 2600, 8], scalars: (0..<41_600).map { Float(($0 * 7919) % 201) / 100 - 1 })
        let weight = Tensor(shape: [64, 8], scalars: (0..<512).map { Float(($0 * 104_729) % 97) / 97 - 0.5 })
        let bias = Tensor(shape: [64], scalars: (0..<64).map { Float($0) / 64 - 0.5 })
        let half = WeightTensor.half(HalfTensor(shape: weight.shape, format: .f16,
                                                bitPatterns: weight.scalars.map { Float16($0).bitPattern }))
        for storedWeight in [WeightTensor.float(weight), half] {
            let (blocked, separate) = GEMMBackend.withBackend(backend) {
                (geglu(projecting: x, weight: storedWeight, bias: bias),
                 geglu(linear(x, weight: storedWeight, bias: bias)))
            }
            #expect(blocked.shape == [2, 2600, 32])
            expectClose(blocked, separate, relative: 1e-6, absolute: 1e-6)
        }
    }
}
