import OverpaintTestSupport
import Testing
@testable import Tensors

@Suite struct Conv2dTests {
    /// The convolution through the tap path, checking on the way that the im2col path (the
    /// one these small images take by default) and the Winograd path (3x3 stride 1 only; the
    /// others fall through to im2col) give the reference too.
    private func run(_ name: String, stride: Int = 1, padding: Padding2D, bias: Bool = true,
                     columnBudgetBytes: Int = 16 << 20, backend: GEMMBackend) throws -> (Tensor, Tensor) {
        let expected = try OpFixtures.tensor("\(name).out")
        let paths: [(taps: Int, winograd: Winograd.Rule)] = [(0, .never), (Int.max, .never), (Int.max, .always)]
        let outputs = try GEMMBackend.withBackend(backend) {
            try paths.map { path in
                conv2d(try OpFixtures.tensor("\(name).x"), weight: .float(try OpFixtures.tensor("\(name).weight")),
                       bias: bias ? try OpFixtures.tensor("\(name).bias") : nil, stride: stride, padding: padding,
                       columnBudgetBytes: columnBudgetBytes, tapMinimumWidth: path.taps, winogradRule: path.winograd)
            }
        }
        expectClose(outputs[1], expected)
        expectClose(outputs[2], expected)
        return (outputs[0], expected)
    }

    /// A convolution of tools/reference's op fixtures: its fixture name, conv2d's settings, and
    /// what it checks (`testDescription`).
    struct TorchCase: Sendable, CustomTestStringConvertible {
        let name: String
        var stride = 1
        let padding: Padding2D
        var bias = true
        var columnBudgetBytes = 16 << 20
        let testDescription: String
    }

    static let torchCases = [
        // F.conv2d(x, w, b, stride=1, padding=1), x [2, 3, 7, 9], w [4, 3, 3, 3]
        TorchCase(name: "conv3x3", padding: Padding2D(1), testDescription: "three by three, padded"),
        // F.conv2d(x, w, b, stride=2, padding=1), x [1, 3, 9, 8], w [5, 3, 3, 3]
        TorchCase(name: "conv_s2p1", stride: 2, padding: Padding2D(1), testDescription: "stride two, padding one"),
        // F.conv2d(x, w, b), x [2, 6, 5, 7], w [4, 6, 1, 1]
        TorchCase(name: "conv1x1", padding: .zero, testDescription: "pointwise"),
        // F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=2), x [1, 4, 7, 6], w [3, 4, 3, 3]
        TorchCase(name: "conv_downsample_pad0", stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1),
                  testDescription: "asymmetric downsample padding"),
        // F.conv2d(x, w, padding=(0, 1)), x [1, 3, 4, 6], w [2, 3, 1, 3]
        TorchCase(name: "conv_rect", padding: Padding2D(top: 0, bottom: 0, left: 1, right: 1), bias: false,
                  testDescription: "rectangular kernel"),
        // F.conv2d(x, w, b, padding=2), x [1, 2, 3, 1], w [2, 2, 5, 5]
        TorchCase(name: "conv_k5_narrow", padding: Padding2D(2), testDescription: "kernel wider than the image"),
        // F.conv2d(x, w, b, stride=1, padding=1), x [1, 8, 13, 11], w [6, 8, 3, 3]; a budget of
        // 3 output rows (72 x 11 floats each), shared by the threads, forces bands of at most 3 rows.
        TorchCase(name: "conv_banded", padding: Padding2D(1), columnBudgetBytes: 3 * 72 * 11 * 4,
                  testDescription: "bands of rows match one band"),
    ]

    @Test(arguments: Conv2dTests.torchCases, GEMMBackend.float32Cases)
    func matchesTorch(_ reference: TorchCase, backend: GEMMBackend) throws {
        let (out, expected) = try run(reference.name, stride: reference.stride, padding: reference.padding, bias: reference.bias,
                                      columnBudgetBytes: reference.columnBudgetBytes, backend: backend)
        expectClose(out, expected)
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func winogradMatchesIm2colOverBandsPanelsAndPadding(backend: GEMMBackend) throws {
        // Odd sizes leave half-used tiles on the bottom and right; 21 x 19 = 399 tiles with a
        // tiny budget make two bands (of at least 256 tiles); a half weight in panels of 20
        // output channels makes two panels; the epilogue and bias are finished per output row.
        let x = TensorBenchmarks.filled([2, 33, 41, 37])
        let weight = TensorBenchmarks.filled([35, 33, 3, 3], scale: 0.1)
        let half = HalfTensor(shape: weight.shape, format: .f16, bitPatterns: weight.scalars.map { Float16($0).bitPattern })
        let bias = TensorBenchmarks.filled([35])
        for padding in [Padding2D(1), Padding2D(top: 0, bottom: 2, left: 2, right: 0), .zero] {
            let outputs = GEMMBackend.withBackend(backend) {
                [Winograd.Rule.never, .always].map { rule in
                    conv2d(x, weight: .half(half), bias: bias, stride: 1, padding: padding, epilogue: .leakyReLU(slope: 0.1),
                           columnBudgetBytes: 1024, panelBudgetBytes: 20 * 33 * 9 * 4, tapMinimumWidth: Int.max,
                           winogradRule: rule)
                }
            }
            #expect(outputs[1].shape == [2, 35, 41 + padding.top + padding.bottom - 2, 37 + padding.left + padding.right - 2])
            expectClose(outputs[1], outputs[0])
        }
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func winogradUpsamplingConvolutionMatchesUpsampleThenIm2col(backend: GEMMBackend) throws {
        // 32 channels of 9 x 11 upsampled to 18 x 22: 99 tiles, which the sized rule takes.
        let x = TensorBenchmarks.filled([1, 32, 9, 11])
        let weight = TensorBenchmarks.filled([32, 32, 3, 3], scale: 0.1)
        let bias = TensorBenchmarks.filled([32])
        let geometry = ConvGeometry(input: x.shape, channels: 32, weight: weight.shape, stride: 1, padding: Padding2D(1),
                                    columnBudgetBytes: 1 << 20, upsampling: 2)
        #expect(Winograd.applies(to: geometry, rule: .sized))
        let (fused, unfused) = GEMMBackend.withBackend(backend) {
            (conv2d(upsampledNearest2x: x, weight: .float(weight), bias: bias, padding: Padding2D(1)),
             conv2d(upsampleNearest2x(x), weight: .float(weight), bias: bias, stride: 1, padding: Padding2D(1),
                    columnBudgetBytes: 1 << 20, tapMinimumWidth: Int.max, winogradRule: .never))
        }
        #expect(fused.shape == [1, 32, 18, 22])
        expectClose(fused, unfused)
    }

    @Test func winogradTakesThreeByThreeStrideOneConvolutionsWithEnoughChannelsAndTiles() {
        func applies(channels: Int, side: Int = 16, kernel: Int = 3, stride: Int = 1) -> Bool {
            Winograd.applies(to: ConvGeometry(input: [1, channels, side, side], channels: channels,
                                              weight: [channels, channels, kernel, kernel], stride: stride,
                                              padding: Padding2D(1), columnBudgetBytes: 1 << 20), rule: .sized)
        }
        #expect(applies(channels: 320))
        #expect(!applies(channels: 16))
        #expect(applies(channels: 1280, side: 16))
        #expect(!applies(channels: 1280, side: 14))
        #expect(!applies(channels: 320, stride: 2))
        #expect(!applies(channels: 320, kernel: 1))
    }

    // The fused entry points against the torch outputs with the same ops applied after.

    @Test(arguments: [("conv3x3", 1), ("conv_s2p1", 2), ("conv1x1", 1)])
    func leakyReLUEpilogueMatchesTorchThenLeakyReLU(name: String, stride: Int) throws {
        let x = try OpFixtures.tensor("\(name).x")
        let weight = try OpFixtures.tensor("\(name).weight")
        let padding = weight.shape[2] == 1 ? Padding2D.zero : Padding2D(1)
        let out = conv2d(x, weight: weight, bias: try OpFixtures.tensor("\(name).bias"), stride: stride,
                         padding: padding, epilogue: .leakyReLU(slope: 0.2))
        let expected = try OpFixtures.tensor("\(name).out")
        #expect(expected.scalars.contains { $0 < 0 }, "the fixture exercises the negative side")
        expectClose(out, Tensor(shape: expected.shape, scalars: expected.scalars.map { $0 < 0 ? 0.2 * $0 : $0 }))
    }

    @Test(arguments: [("conv3x3", 1), ("conv_s2p1", 2), ("conv1x1", 1)])
    func preLUEpilogueMatchesTorchThenPReLU(name: String, stride: Int) throws {
        let x = try OpFixtures.tensor("\(name).x")
        let weight = try OpFixtures.tensor("\(name).weight")
        let channels = weight.shape[0]
        let slopes = Tensor(shape: [channels], scalars: (0..<channels).map { 0.1 * Float($0 + 1) })
        let padding = weight.shape[2] == 1 ? Padding2D.zero : Padding2D(1)
        let out = conv2d(x, weight: weight, bias: try OpFixtures.tensor("\(name).bias"), stride: stride,
                         padding: padding, epilogue: .preLU(slopes: slopes))
        let expected = try OpFixtures.tensor("\(name).out")
        let plane = expected.shape[2] * expected.shape[3]
        #expect(expected.scalars.contains { $0 < 0 }, "the fixture exercises the negative side")
        expectClose(out, Tensor(shape: expected.shape, scalars: expected.scalars.indices.map { index in
            let value = expected.scalars[index]
            return value < 0 ? slopes.scalars[index / plane % channels] * value : value
        }))
    }

    @Test(arguments: [("conv3x3", 1), ("conv_s2p1", 2)])
    func scaledResidualEpilogueMatchesTorchScaledPlusResidual(name: String, stride: Int) throws {
        let expected = try OpFixtures.tensor("\(name).out")
        let residual = Tensor(shape: expected.shape, scalars: expected.scalars.indices.map { Float($0 % 7) - 3 })
        let out = conv2d(try OpFixtures.tensor("\(name).x"), weight: try OpFixtures.tensor("\(name).weight"),
                         bias: try OpFixtures.tensor("\(name).bias"), stride: stride, padding: Padding2D(1),
                         epilogue: .scaledResidual(scale: 0.2, residual: residual))
        expectClose(out, Tensor(shape: expected.shape,
                                scalars: zip(expected.scalars, residual.scalars).map { 0.2 * $0 + $1 }))
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func upsamplingConvolutionMatchesUpsampleThenConvolve(backend: GEMMBackend) throws {
        // conv3x3's weights over its x [2, 3, 7, 9] upsampled to 14 x 18; banded so that bands
        // start on odd upsampled rows too (with two threads the second band starts at row 7).
        let x = try OpFixtures.tensor("conv3x3.x")
        let (weight, bias) = (try OpFixtures.tensor("conv3x3.weight"), try OpFixtures.tensor("conv3x3.bias"))
        let (fused, unfused) = GEMMBackend.withBackend(backend) {
            (conv2d(upsampledNearest2x: x, weight: .float(weight), bias: bias, padding: Padding2D(1),
                    epilogue: .leakyReLU(slope: 0.2)),
             conv2d(upsampleNearest2x(x), weight: weight, bias: bias, padding: Padding2D(1),
                    epilogue: .leakyReLU(slope: 0.2)))
        }
        #expect(fused.shape == [2, 4, 14, 18])
        expectClose(fused, unfused)
    }

    /// A GroupNorm (+ SiLU) mapped as each path stages its rows gives exactly the convolution
    /// of the mapped tensor: padding rows and columns stay zero, each image gets its own map.
    @Test(arguments: [("conv3x3", 1, Padding2D(1)), ("conv_s2p1", 2, Padding2D(1)), ("conv1x1", 1, .zero),
                      ("conv_downsample_pad0", 2, Padding2D(top: 0, bottom: 1, left: 0, right: 1))])
    func aMapAppliedWhileStagingEqualsConvolvingTheMappedTensor(name: String, stride: Int, padding: Padding2D) throws {
        let x = try OpFixtures.tensor("\(name).x")
        let (weight, bias) = (try OpFixtures.tensor("\(name).weight"), try OpFixtures.tensor("\(name).bias"))
        let paths: [(taps: Int, winograd: Winograd.Rule)] = [(0, .never), (Int.max, .never), (Int.max, .always)]
        for silu in [false, true] {
            let affine = groupNormAffine(x, groups: x.shape[1], weight: nil, bias: nil, eps: 1e-5, fusedSiLU: silu)
            for path in paths {
                let fused = conv2d(x, preparedBy: affine, weight: .float(weight), bias: bias, stride: stride,
                                   padding: padding, epilogue: .identity, tapMinimumWidth: path.taps,
                                   winogradRule: path.winograd)
                let mapped = conv2d(affine.applied(to: x), weight: .float(weight), bias: bias, stride: stride,
                                    padding: padding, columnBudgetBytes: defaultColumnBudgetBytes,
                                    tapMinimumWidth: path.taps, winogradRule: path.winograd)
                #expect(fused.scalars == mapped.scalars, "\(name), SiLU \(silu), taps from \(path.taps), \(path.winograd)")
            }
        }
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func channelSliceInAndOutMatchesTorch(backend: GEMMBackend) throws {
        // conv3x3: x [2, 3, 7, 9], weight [4, 3, 3, 3]. x sits in channels 0..<3 of a 5-channel
        // input; the output goes to channels 1..<5 of a 6-channel target, the rest kept.
        let x = try OpFixtures.tensor("conv3x3.x")
        let expected = try OpFixtures.tensor("conv3x3.out")
        let wide = concatenatedChannels(x, Tensor(repeating: 9, shape: [2, 2, 7, 9]))
        var target = Tensor(repeating: -5, shape: [2, 6, 7, 9])
        let (weight, bias) = (try OpFixtures.tensor("conv3x3.weight"), try OpFixtures.tensor("conv3x3.bias"))
        GEMMBackend.withBackend(backend) {
            conv2d(wide, channels: 3, weight: .float(weight), bias: bias, padding: Padding2D(1), into: &target, atChannel: 1)
        }
        expectClose(channels(1..<5, of: target), expected)
        #expect(channels(0..<1, of: target).scalars.allSatisfy { $0 == -5 })
        #expect(channels(5..<6, of: target).scalars.allSatisfy { $0 == -5 })
    }

    @Test(arguments: GEMMBackend.float32Cases)
    func appendingToABufferMatchesTorchAndKeepsTheInput(backend: GEMMBackend) throws {
        // conv3x3 into channels 3..<7 of a buffer whose channels 0..<3 hold x, as a dense block grows.
        let x = try OpFixtures.tensor("conv3x3.x")
        var buffer = concatenatedChannels(x, Tensor(repeating: 7, shape: [2, 4, 7, 9]))
        let (weight, bias) = (try OpFixtures.tensor("conv3x3.weight"), try OpFixtures.tensor("conv3x3.bias"))
        GEMMBackend.withBackend(backend) {
            conv2d(appendingTo: &buffer, channels: 3, weight: .float(weight), bias: bias, padding: Padding2D(1),
                   epilogue: .leakyReLU(slope: 0.5), atChannel: 3)
        }
        let expected = try OpFixtures.tensor("conv3x3.out")
        expectClose(channels(3..<7, of: buffer), Tensor(shape: expected.shape,
                                                        scalars: expected.scalars.map { $0 < 0 ? 0.5 * $0 : $0 }))
        #expect(channels(0..<3, of: buffer) == x)
    }
}

/// torch.cat([a, b], dim=1) for the tests (written out, so it does not lean on the library).
private func concatenatedChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
    let plane = a.shape[2] * a.shape[3]
    var scalars: [Float] = []
    for image in 0..<a.shape[0] {
        scalars += a.scalars[(image * a.shape[1] * plane)..<((image + 1) * a.shape[1] * plane)]
        scalars += b.scalars[(image * b.shape[1] * plane)..<((image + 1) * b.shape[1] * plane)]
    }
    return Tensor(shape: [a.shape[0], a.shape[1] + b.shape[1], a.shape[2], a.shape[3]], scalars: scalars)
}

/// x[:, range] for the tests.
private func channels(_ range: Range<Int>, of x: Tensor) -> Tensor {
    let plane = x.shape[2] * x.shape[3]
    var scalars: [Float] = []
    for image in 0..<x.shape[0] {
        let start = (image * x.shape[1] + range.lowerBound) * plane
        scalars += x.scalars[start..<(start + range.count * plane)]
    }
    return Tensor(shape: [x.shape[0], range.count, x.shape[2], x.shape[3]], scalars: scalars)
}
