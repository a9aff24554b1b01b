import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct ElementwiseTests {
    @Test func broadcastArithmeticMatchesTorch() throws {
        let x = try OpFixtures.tensor("broadcast.x")
        // x + channel ([1, 3, 1, 1]); x * last ([5]); x - per_image ([2, 3, 1, 1]); x / denominator ([5])
        expectClose(x + (try OpFixtures.tensor("broadcast.channel")), try OpFixtures.tensor("broadcast.add_channel"))
        expectClose(x * (try OpFixtures.tensor("broadcast.last")), try OpFixtures.tensor("broadcast.mul_last"))
        expectClose(x - (try OpFixtures.tensor("broadcast.per_image")), try OpFixtures.tensor("broadcast.sub_per_image"))
        expectClose(x / (try OpFixtures.tensor("broadcast.denominator")), try OpFixtures.tensor("broadcast.div_last"))
    }

    @Test func bothSidesBroadcastMatchesTorch() throws {
        // col [3, 1] + row [1, 4]; col * row
        let (column, row) = (try OpFixtures.tensor("outer.col"), try OpFixtures.tensor("outer.row"))
        expectClose(column + row, try OpFixtures.tensor("outer.add"))
        expectClose(column * row, try OpFixtures.tensor("outer.mul"))
    }

    @Test func inPlaceMatchesOutOfPlace() throws {
        var x = try OpFixtures.tensor("broadcast.x")
        x += try OpFixtures.tensor("broadcast.channel")
        expectClose(x, try OpFixtures.tensor("broadcast.add_channel"))
    }

    @Test func scalarOperationsMatchTorch() throws {
        // (x * 0.18215 + 1) / 2 - 0.5
        let x = try OpFixtures.tensor("broadcast.x")
        expectClose((x * 0.18215 + 1) / 2 - 0.5, try OpFixtures.tensor("broadcast.scalar"))
    }
}
