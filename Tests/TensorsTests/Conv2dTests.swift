import Testing
@testable import Tensors

@Suite struct Conv2dTests {
    private func run(_ name: String, stride: Int = 1, padding: Padding2D, bias: Bool = true,
                     columnBudgetBytes: Int = 16 << 20, backend: GEMMBackend) throws -> (Tensor, Tensor) {
        let out = try GEMMBackend.withBackend(backend) {
            conv2d(try OpFixtures.tensor("\(name).x"), weight: try OpFixtures.tensor("\(name).weight"),
                   bias: bias ? try OpFixtures.tensor("\(name).bias") : nil, stride: stride, padding: padding,
                   columnBudgetBytes: columnBudgetBytes)
        }
        return (out, try OpFixtures.tensor("\(name).out"))
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func threeByThreePaddedMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b, stride=1, padding=1), x [2, 3, 7, 9], w [4, 3, 3, 3]
        let (out, expected) = try run("conv3x3", padding: Padding2D(1), backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func strideTwoPaddingOneMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b, stride=2, padding=1), x [1, 3, 9, 8], w [5, 3, 3, 3]
        let (out, expected) = try run("conv_s2p1", stride: 2, padding: Padding2D(1), backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func pointwiseMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b), x [2, 6, 5, 7], w [4, 6, 1, 1]
        let (out, expected) = try run("conv1x1", padding: .zero, backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func asymmetricDownsamplePaddingMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=2), x [1, 4, 7, 6], w [3, 4, 3, 3]
        let (out, expected) = try run("conv_downsample_pad0", stride: 2,
                                      padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1), backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func rectangularKernelMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, padding=(0, 1)), x [1, 3, 4, 6], w [2, 3, 1, 3]
        let (out, expected) = try run("conv_rect", padding: Padding2D(top: 0, bottom: 0, left: 1, right: 1),
                                      bias: false, backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func kernelWiderThanImageMatchesTorch(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b, padding=2), x [1, 2, 3, 1], w [2, 2, 5, 5]
        let (out, expected) = try run("conv_k5_narrow", padding: Padding2D(2), backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func bandsOfRowsMatchOneBand(backend: GEMMBackend) throws {
        // F.conv2d(x, w, b, stride=1, padding=1), x [1, 8, 13, 11], w [6, 8, 3, 3]; a budget of
        // 3 output rows (72 x 11 floats each), shared by the threads, forces bands of at most 3 rows.
        let (out, expected) = try run("conv_banded", padding: Padding2D(1), columnBudgetBytes: 3 * 72 * 11 * 4,
                                      backend: backend)
        expectClose(out, expected)
    }
}
