import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct LayoutTests {
    @Test func nchwToTokensAndBackMatchTorch() throws {
        let x = try OpFixtures.tensor("permute.x")
        // x.permute(0, 2, 3, 1).reshape(2, 20, 3)
        let tokens = x.permuted([0, 2, 3, 1]).reshaped([2, 20, 3])
        expectClose(tokens, try OpFixtures.tensor("permute.nhwc"), relative: 0, absolute: 0)
        expectClose(tokens.reshaped([2, 4, 5, 3]).permuted([0, 3, 1, 2]), try OpFixtures.tensor("permute.back"),
                    relative: 0, absolute: 0)
    }

    @Test func otherPermutationsMatchTorch() throws {
        let x = try OpFixtures.tensor("permute.x")
        // x.permute(0, 3, 1, 2) (a batched transpose); x.transpose(1, 2) (row copies)
        expectClose(x.permuted([0, 3, 1, 2]), try OpFixtures.tensor("permute.p0312"), relative: 0, absolute: 0)
        expectClose(x.transposed(1, 2), try OpFixtures.tensor("permute.t12"), relative: 0, absolute: 0)
        // x.permute(3, 2, 1, 0): no axes merge, the element-by-element path
        expectClose(x.permuted([3, 2, 1, 0]), try OpFixtures.tensor("permute.p3210"), relative: 0, absolute: 0)
    }

    @Test func concatenateMatchesTorch() throws {
        // torch.cat([a, b], dim=1): [2, 3, 4] + [2, 5, 4]; dim=2: [2, 3, 4] + [2, 3, 2]
        for (name, axis) in [("concat1", 1), ("concat2", 2)] {
            let out = Tensor.concatenate([try OpFixtures.tensor("\(name).a"), try OpFixtures.tensor("\(name).b")], axis: axis)
            expectClose(out, try OpFixtures.tensor("\(name).out"), relative: 0, absolute: 0)
        }
    }

    @Test func chunkMatchesTorch() throws {
        // x.chunk(3, dim=1), x [2, 7, 3] -> sizes 3, 3, 1
        let chunks = try OpFixtures.tensor("chunk.x").chunked(3, axis: 1)
        #expect(chunks.count == 3)
        for (index, chunk) in chunks.enumerated() {
            expectClose(chunk, try OpFixtures.tensor("chunk.c\(index)"), relative: 0, absolute: 0)
        }
    }

    @Test func nearestUpsampleMatchesTorch() throws {
        // F.interpolate(x, scale_factor=2.0, mode="nearest"), x [2, 3, 4, 5]
        expectClose(upsampleNearest2x(try OpFixtures.tensor("upsample.x")), try OpFixtures.tensor("upsample.out"),
                    relative: 0, absolute: 0)
    }
}
