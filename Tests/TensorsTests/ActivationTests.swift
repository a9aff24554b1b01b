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
}
