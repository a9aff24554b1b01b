/// Zero padding added to each side of a feature map before a convolution.
public struct Padding2D: Sendable, Equatable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(min(top, bottom, left, right) >= 0, "padding must not be negative")
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }

    /// The same padding on all four sides, as torch's `padding=p`.
    public init(_ all: Int) {
        self.init(top: all, bottom: all, left: all, right: all)
    }

    public static let zero = Padding2D(0)
}

/// What conv2d does to each output value `v` (the convolution plus bias) as it stores it, while
/// that part of the output is still in cache: each fused op saves a pass over the output.
public enum ConvEpilogue: Sendable, Equatable {
    /// `v`.
    case identity
    /// `v < 0 ? v * slope : v`, as torch.nn.LeakyReLU.
    case leakyReLU(slope: Float)
    /// `v < 0 ? v * slopes[channel] : v`, as torch.nn.PReLU with one slope per output channel
    /// (`slopes` is [O]).
    case preLU(slopes: Tensor)
    /// `v * scale + residual`, reading `residual` at the output's own position (batch, channel
    /// of the output tensor, row, column): ESRGAN's scaled residual connections.
    case scaledResidual(scale: Float, residual: Tensor)
}

/// torch.nn.functional.conv2d with zero padding, dilation 1 and groups 1.
///
/// A 1x1 stride-1 unpadded convolution is one sgemm per image. 3x3 stride-1 convolutions with
/// enough channels and tiles go through Winograd's F(2x2, 3x3) (see `Winograd`). Other
/// stride-1 convolutions on images at least `defaultTapMinimumWidth` wide multiply once per
/// kernel tap over a zero-padded copy of a band of input rows (see `convolveByTaps`); strided
/// and narrow ones go through im2col and sgemm. Each path works a band of rows at a time with
/// scratch sized from `columnBudgetBytes`.
// x: [N, C, H, W], weight: [O, C, kh, kw] (torch layout), bias: [O] -> [N, O, OH, OW]
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .zero
) -> Tensor {
    conv2d(x, weight: .float(weight), bias: bias, stride: stride, padding: padding)
}

/// torch.nn.functional.conv2d with the weight as stored; half weights are widened a panel of
/// output channels at a time (SD 1.5's largest, 2560 -> 1280 3x3, takes four).
// x: [N, C, H, W], weight: [O, C, kh, kw] (torch layout), bias: [O] -> [N, O, OH, OW]
public func conv2d(
    _ x: Tensor, weight: WeightTensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .zero,
    epilogue: ConvEpilogue = .identity
) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, epilogue: epilogue,
           columnBudgetBytes: defaultColumnBudgetBytes)
}

/// torch-style `padding=p` on all sides.
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, OH, OW]
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: Padding2D(padding))
}

/// torch.nn.functional.conv2d, then `epilogue` fused into the store.
// x: [N, C, H, W], weight: [O, C, kh, kw] (torch layout), bias: [O] -> [N, O, OH, OW]
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .zero,
    epilogue: ConvEpilogue
) -> Tensor {
    conv2d(x, weight: .float(weight), bias: bias, stride: stride, padding: padding, epilogue: epilogue)
}

/// `conv2d(upsampleNearest2x(x), ...)` without the upsampled tensor: each band's input rows are
/// upsampled as they are staged (ESRGAN's two upsampling convolutions, at 512 and 1024 pixels).
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, 2H + 2p - kh + 1, ...]
public func conv2d(
    upsampledNearest2x x: Tensor, weight: WeightTensor, bias: Tensor?, padding: Padding2D,
    epilogue: ConvEpilogue = .identity
) -> Tensor {
    let geometry = ConvGeometry(input: x.shape, channels: x.shape.count == 4 ? x.shape[1] : 0, weight: weight.shape,
                                stride: 1, padding: padding, columnBudgetBytes: defaultColumnBudgetBytes, upsampling: 2)
    let outShape = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth]
    let output = geometry.outputView(in: outShape, atChannel: 0)
    return Tensor(shape: outShape) { out in
        x.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
            convolve(inBase, geometry: geometry, weight: weight, bias: bias, epilogue: epilogue, into: output.offset(outBase))
        }
    }
}

/// `conv2d(affine.applied(to: x), ...)` where the convolution copies its input rows anyway
/// (Winograd and per-tap paths): the map is applied to each row as it is staged, which saves
/// writing the mapped tensor and reading it back. Other paths map `x` first.
// x: [N, C, H, W], affine: [N * C] (e.g. a GroupNorm's), weight: [O, C, kh, kw] -> [N, O, OH, OW]
public func conv2d(
    _ x: Tensor, preparedBy affine: ChannelAffine, weight: WeightTensor, bias: Tensor?, stride: Int = 1,
    padding: Padding2D = .zero, epilogue: ConvEpilogue = .identity
) -> Tensor {
    conv2d(x, preparedBy: affine, weight: weight, bias: bias, stride: stride, padding: padding, epilogue: epilogue,
           winogradRule: Winograd.activeRule)
}

/// `winogradRule` lets tests run either staging path.
// x: [N, C, H, W], affine: [N * C], weight: [O, C, kh, kw] -> [N, O, OH, OW]
func conv2d(
    _ x: Tensor, preparedBy affine: ChannelAffine, weight: WeightTensor, bias: Tensor?, stride: Int,
    padding: Padding2D, epilogue: ConvEpilogue, tapMinimumWidth: Int = defaultTapMinimumWidth,
    winogradRule: Winograd.Rule
) -> Tensor {
    let geometry = ConvGeometry(input: x.shape, channels: x.shape.count == 4 ? x.shape[1] : 0, weight: weight.shape,
                                stride: stride, padding: padding, columnBudgetBytes: defaultColumnBudgetBytes)
    let path = ConvPath(geometry, winogradRule: winogradRule, tapMinimumWidth: tapMinimumWidth)
    guard path.stagesInput else {
        return conv2d(affine.applied(to: x), weight: weight, bias: bias, stride: stride, padding: padding,
                      epilogue: epilogue, columnBudgetBytes: defaultColumnBudgetBytes,
                      tapMinimumWidth: tapMinimumWidth, winogradRule: winogradRule)
    }
    let outShape = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth]
    let output = geometry.outputView(in: outShape, atChannel: 0)
    return Tensor(shape: outShape) { out in
        x.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
            convolve(inBase, geometry: geometry, inputAffine: affine, weight: weight, bias: bias, epilogue: epilogue,
                     into: output.offset(outBase), tapMinimumWidth: tapMinimumWidth, winogradRule: winogradRule)
        }
    }
}

/// The convolution of input channels `0..<channels` of `x`, stored (after `epilogue`) into
/// channels `atChannel..<atChannel + O` of `target`, which keeps its other channels: a dense
/// block hands a prefix of its buffer on without slicing it out, and writes into the next one.
// x: [N, >=channels, H, W], weight: [O, channels, kh, kw], target: [N, >=atChannel+O, OH, OW]
public func conv2d(
    _ x: Tensor, channels: Int, weight: WeightTensor, bias: Tensor?, stride: Int = 1, padding: Padding2D,
    epilogue: ConvEpilogue = .identity, into target: inout Tensor, atChannel: Int
) {
    let geometry = ConvGeometry(input: x.shape, channels: channels, weight: weight.shape, stride: stride,
                                padding: padding, columnBudgetBytes: defaultColumnBudgetBytes)
    let output = geometry.outputView(in: target.shape, atChannel: atChannel)
    x.withUnsafeBufferPointer { input in
        target.withUnsafeMutableBufferPointer { out in
            guard let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
            convolve(inBase, geometry: geometry, weight: weight, bias: bias, epilogue: epilogue,
                     into: output.offset(outBase))
        }
    }
}

/// A dense-block step within one buffer: the convolution of channels `0..<channels` of
/// `buffer`, stored (after `epilogue`) into its channels `atChannel..<atChannel + O`, which
/// must lie at or past `channels` so that nothing read is overwritten.
// buffer: [N, >=atChannel+O, H, W], weight: [O, channels, kh, kw]; output size must equal input size
public func conv2d(
    appendingTo buffer: inout Tensor, channels: Int, weight: WeightTensor, bias: Tensor?, padding: Padding2D,
    epilogue: ConvEpilogue = .identity, atChannel: Int
) {
    let geometry = ConvGeometry(input: buffer.shape, channels: channels, weight: weight.shape, stride: 1,
                                padding: padding, columnBudgetBytes: defaultColumnBudgetBytes)
    precondition(atChannel >= channels, "conv2d would overwrite its own input channels (\(atChannel) < \(channels))")
    let output = geometry.outputView(in: buffer.shape, atChannel: atChannel)
    buffer.withUnsafeMutableBufferPointer { values in
        guard let base = values.baseAddress else { return }
        convolve(UnsafePointer(base), geometry: geometry, weight: weight, bias: bias, epilogue: epilogue,
                 into: output.offset(base))
    }
}

/// The im2col and staging scratch all threads may hold at once.
let defaultColumnBudgetBytes = 16 << 20

/// Stride-1 convolutions whose zero-padded rows are at least this wide multiply per kernel tap;
/// narrower ones go through im2col. Tap products compute kw - 1 discarded pixels per row (25%
/// extra at the SD UNet's 8-wide level) and split the product's depth kh*kw ways. Measured with
/// `bench` on SD 1.5 (2 threads, one release run each), UNet / VAE decode at 512x512:
/// taps at every width 32.0 s / 40.7 s, from 64 wide 30.7 s / 40.8 s, from 128 wide 28.9 s /
/// 38.9 s (0.77 and 0.94 of sgemm), im2col everywhere 28.9 s for the UNet. Real-ESRGAN's
/// 256-pixel tiles gain most (x4plus 0.62 -> 0.84 of sgemm).
let defaultTapMinimumWidth = 128

/// `columnBudgetBytes` bounds the im2col buffers; tests shrink it to exercise banding.
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, OH, OW]
func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Padding2D, columnBudgetBytes: Int,
    tapMinimumWidth: Int = defaultTapMinimumWidth
) -> Tensor {
    conv2d(x, weight: .float(weight), bias: bias, stride: stride, padding: padding, epilogue: .identity,
           columnBudgetBytes: columnBudgetBytes, tapMinimumWidth: tapMinimumWidth)
}

/// `panelBudgetBytes` bounds the widened panel of a half weight; tests shrink it to split one,
/// and set `tapMinimumWidth` to run small images through either stride-1 path.
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, OH, OW]
func conv2d(
    _ x: Tensor, weight: WeightTensor, bias: Tensor?, stride: Int, padding: Padding2D, epilogue: ConvEpilogue = .identity,
    columnBudgetBytes: Int, panelBudgetBytes: Int = WeightTensor.panelBudgetBytes,
    tapMinimumWidth: Int = defaultTapMinimumWidth, winogradRule: Winograd.Rule = Winograd.activeRule
) -> Tensor {
    let geometry = ConvGeometry(input: x.shape, channels: x.shape.count == 4 ? x.shape[1] : 0, weight: weight.shape,
                                stride: stride, padding: padding, columnBudgetBytes: columnBudgetBytes)
    let outShape = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth]
    let output = geometry.outputView(in: outShape, atChannel: 0)
    return Tensor(shape: outShape) { out in
        x.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
            convolve(inBase, geometry: geometry, weight: weight, bias: bias, epilogue: epilogue,
                     into: output.offset(outBase), panelBudgetBytes: panelBudgetBytes, tapMinimumWidth: tapMinimumWidth,
                     winogradRule: winogradRule)
        }
    }
}

/// Where a convolution stores: image `n`, channel `o` starts at `base + n * imageStride + o * plane`.
struct ConvOutputView {
    let channelOffset: Int
    let imageStride: Int
    /// Channels of the tensor written into (the residual is read at the same positions).
    let tensorChannels: Int

    func offset(_ base: UnsafeMutablePointer<Float>) -> ConvTarget {
        ConvTarget(base: base, channelOffset: channelOffset, imageStride: imageStride, tensorChannels: tensorChannels)
    }
}

/// `ConvOutputView` bound to its memory.
struct ConvTarget {
    let base: UnsafeMutablePointer<Float>
    let channelOffset: Int
    let imageStride: Int
    let tensorChannels: Int
}

/// Checks the bias and epilogue, then runs every panel of output channels over every image.
/// `inputAffine` maps each staged input row; only the paths that stage take one.
private func convolve(
    _ input: UnsafePointer<Float>, geometry: ConvGeometry, inputAffine: ChannelAffine? = nil, weight: WeightTensor,
    bias: Tensor?, epilogue: ConvEpilogue, into target: ConvTarget, panelBudgetBytes: Int = WeightTensor.panelBudgetBytes,
    tapMinimumWidth: Int = defaultTapMinimumWidth, winogradRule: Winograd.Rule = Winograd.activeRule
) {
    if let bias { precondition(bias.shape == [geometry.outChannels], "conv2d bias \(bias.shape) is not [\(geometry.outChannels)]") }
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: geometry.outChannels)
    // The epilogue's tensor: PReLU's slopes, or the residual.
    var operand: [Float] = []
    switch epilogue {
    case let .preLU(slopes):
        precondition(slopes.shape == [geometry.outChannels], "conv2d PReLU slopes \(slopes.shape) are not [\(geometry.outChannels)]")
        operand = slopes.scalars
    case let .scaledResidual(_, residual):
        precondition(residual.shape == [geometry.batch, target.tensorChannels, geometry.outHeight, geometry.outWidth],
                     "conv2d residual \(residual.shape) is not shaped as the output tensor")
        operand = residual.scalars
    case .identity, .leakyReLU:
        break
    }
    let backend = GEMMBackend.active
    biasValues.withUnsafeBufferPointer { biasBuffer in
        operand.withUnsafeBufferPointer { operandBuffer in
            guard let biasBase = biasBuffer.baseAddress else { return }
            let path = ConvPath(geometry, winogradRule: winogradRule, tapMinimumWidth: tapMinimumWidth)
            precondition(inputAffine == nil || path.stagesInput, "conv2d maps its input only on a staging path")
            let (usesWinograd, usesTaps) = (path == .winograd, path == .taps)
            let rule = StoreRule(epilogue)
            weight.forEachRowPanel(budgetBytes: panelBudgetBytes) { channels, panel in
                // Reordered once per panel, not once per image.
                let tapWeights = usesTaps ? tapMajor(panel, outChannels: channels.count, geometry: geometry) : nil
                let winogradWeights = usesWinograd
                    ? Winograd.transformedWeights(panel, outChannels: channels.count, inChannels: geometry.inChannels) : nil
                defer {
                    tapWeights?.deallocate()
                    winogradWeights?.deallocate()
                }
                let stores = (0..<geometry.batch).map { image in
                    let outChannel = target.channelOffset + channels.lowerBound
                    let outOffset = image * target.imageStride + outChannel * geometry.outPlane
                    return ConvStore(rule: rule, target: target.base + outOffset, bias: biasBase + channels.lowerBound,
                                     operand: operandBuffer.baseAddress.map {
                                         $0 + (rule.readsSlopes ? channels.lowerBound : outOffset)
                                     },
                                     plane: geometry.outPlane)
                }
                if let winogradWeights {
                    convolveByWinograd(input, inputAffine: inputAffine, transformedWeights: winogradWeights,
                                       outChannels: channels.count, stores: stores, geometry: geometry, backend: backend)
                    return
                }
                for (image, store) in stores.enumerated() {
                    let source = input + image * geometry.inputImageStride
                    if let tapWeights {
                        convolveByTaps(source, image: image, inputAffine: inputAffine, tapWeights: tapWeights,
                                       outChannels: channels.count, store: store, geometry: geometry, backend: backend)
                    } else if geometry.isPointwise {
                        convolvePointwise(source, weights: panel, outChannels: channels.count, store: store,
                                          geometry: geometry, backend: backend)
                    } else {
                        convolveByColumns(source, weights: panel, outChannels: channels.count, store: store,
                                          geometry: geometry, backend: backend)
                    }
                }
            }
        }
    }
}

/// How a convolution runs (see `conv2d`).
enum ConvPath {
    case winograd, taps, pointwise, columns

    init(_ g: ConvGeometry, winogradRule: Winograd.Rule, tapMinimumWidth: Int) {
        if Winograd.applies(to: g, rule: winogradRule) {
            self = .winograd
        } else if g.upsampling > 1 || (g.stride == 1 && !g.isPointwise && g.paddedWidth >= tapMinimumWidth) {
            // Upsampling happens as rows are staged, which the tap and Winograd paths do.
            self = .taps
        } else {
            self = g.isPointwise ? .pointwise : .columns
        }
    }

    /// Whether the path copies its input rows before multiplying (and so can map them as it copies).
    var stagesInput: Bool { self == .winograd || self == .taps }
}

/// Sizes of one convolution, checked once.
struct ConvGeometry {
    let batch, inChannels, height, width: Int
    let outChannels, kernelHeight, kernelWidth: Int
    let stride: Int
    let padding: Padding2D
    let outHeight, outWidth: Int
    /// Floats between images of the input (its channels may outnumber those convolved).
    let inputImageStride: Int
    /// The input is read nearest-upsampled by this factor (`height` and `width` are upsampled).
    let upsampling: Int
    /// Upper bound on the threads' scratch; a band of output rows is sized to fit it.
    let columnBudgetBytes: Int

    init(input: [Int], channels: Int, weight: [Int], stride: Int, padding: Padding2D, columnBudgetBytes: Int,
         upsampling: Int = 1) {
        precondition(input.count == 4, "conv2d input must be [N, C, H, W], got \(input)")
        precondition(weight.count == 4, "conv2d weight must be [O, C, kh, kw], got \(weight)")
        precondition(channels == weight[1] && channels <= input[1],
                     "conv2d input \(input) has not the \(weight[1]) channels of weight \(weight)")
        precondition(stride >= 1, "conv2d stride must be positive, got \(stride)")
        precondition(upsampling == 1 || stride == 1, "conv2d upsamples its input only at stride 1")
        (batch, inChannels, height, width) = (input[0], channels, input[2] * upsampling, input[3] * upsampling)
        self.upsampling = upsampling
        (outChannels, kernelHeight, kernelWidth) = (weight[0], weight[2], weight[3])
        inputImageStride = input[1] * input[2] * input[3]
        self.stride = stride
        self.padding = padding
        self.columnBudgetBytes = columnBudgetBytes
        outHeight = (height + padding.top + padding.bottom - kernelHeight) / stride + 1
        outWidth = (width + padding.left + padding.right - kernelWidth) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "conv2d kernel \(weight) larger than padded input \(input)")
    }

    /// Floats per input channel as stored (before any upsampling).
    var inPlane: Int { height * width / (upsampling * upsampling) }
    var outPlane: Int { outHeight * outWidth }
    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    var columnRows: Int { inChannels * kernelHeight * kernelWidth }
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .zero }
    /// Width of a zero-padded input row, the row pitch of the tap products.
    var paddedWidth: Int { width + padding.left + padding.right }

    /// The channels `atChannel..<atChannel + outChannels` of a tensor shaped `shape`, checked.
    func outputView(in shape: [Int], atChannel: Int) -> ConvOutputView {
        precondition(shape.count == 4 && shape[0] == batch && shape[2] == outHeight && shape[3] == outWidth
                     && atChannel >= 0 && atChannel + outChannels <= shape[1],
                     "conv2d output channels \(atChannel)..<\(atChannel + outChannels) do not fit \(shape)")
        return ConvOutputView(channelOffset: atChannel, imageStride: shape[1] * outPlane, tensorChannels: shape[1])
    }

    /// Output rows per band: every thread gets at least one band, and the `threads` scratch
    /// buffers of `bytesPerOutputRow` a row together fit the budget.
    func bandRows(threads: Int, bytesPerOutputRow: Int) -> Int {
        let perThread = (outHeight + threads - 1) / threads
        let fitting = max(1, columnBudgetBytes / threads / max(1, bytesPerOutputRow))
        let bandsPerThread = (perThread + fitting - 1) / fitting
        return (perThread + bandsPerThread - 1) / bandsPerThread
    }
}

/// One image of a 1x1 convolution: one threaded sgemm onto the bias, then the epilogue.
// source: [C, H*W], weights: [outChannels, C], output: outChannels planes of H*W
private func convolvePointwise(
    _ source: UnsafePointer<Float>, weights: UnsafePointer<Float>, outChannels: Int, store: ConvStore,
    geometry: ConvGeometry, backend: GEMMBackend
) {
    let plane = geometry.outPlane
    Parallel.forEachRange(count: outChannels, minimumBlock: max(1, 65_536 / max(1, plane))) { channels in
        for channel in channels { (store.target + channel * plane).update(repeating: store.bias[channel], count: plane) }
    }
    backend.sgemm(m: outChannels, n: plane, k: geometry.inChannels, a: weights, lda: geometry.inChannels,
                  b: source, ldb: geometry.inPlane, beta: 1, c: store.target, ldc: plane)
    if case .plain = store.rule { return }
    Parallel.forEachRange(count: outChannels, minimumBlock: max(1, 65_536 / max(1, plane))) { channels in
        for channel in channels {
            let values = store.target + channel * plane
            store.finish(channel: channel, pixels: 0, count: plane, from: values, addBias: false)
        }
    }
}

/// Runs `body` on bands of `rows` output rows, each thread taking a contiguous run of bands with
/// `scratchCount` floats of its own scratch (its products are single-threaded, as everything
/// inside a `Parallel` block is). Threading the bands rather than each product threads the
/// copies between products too, which thin convolutions (64 channels) spend long in.
private func forEachBand(
    of geometry: ConvGeometry, rows bandRows: Int, scratchCount: Int,
    _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
) {
    let bandCount = (geometry.outHeight + bandRows - 1) / bandRows
    Parallel.forEachRange(count: bandCount, minimumBlock: 1) { bands in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scratch.deallocate() }
        for band in bands {
            let firstRow = band * bandRows
            body(firstRow..<min(geometry.outHeight, firstRow + bandRows), scratch)
        }
    }
}

/// One image of a stride-1 convolution as one product per kernel tap. A band's input rows are
/// copied once, zero-padded to `paddedWidth`; then tap (ky, kx) is `weights[:, :, ky, kx]` times
/// that copy shifted by `ky * paddedWidth + kx`, all accumulated into "wide" output rows of
/// `paddedWidth` pixels (the last kw - 1 of each are discarded when stored). This replaces an
/// im2col matrix of kh*kw copies of the input with one copy, which matters most for thin
/// outputs (ESRGAN's 32-channel dense-block convolutions), where copying rivals multiplying.
// source: [C, H, W], tapWeights: [kh * kw, outChannels, C] (see `tapMajor`) -> outChannels planes of OH*OW
private func convolveByTaps(
    _ source: UnsafePointer<Float>, image: Int, inputAffine: ChannelAffine?, tapWeights: UnsafePointer<Float>,
    outChannels: Int, store: ConvStore, geometry g: ConvGeometry, backend: GEMMBackend
) {
    let taps = g.kernelHeight * g.kernelWidth
    let channels = g.inChannels
    let pitch = g.paddedWidth
    // A quarter of the im2col budget: one band per thread of about 2 MB (staged input and wide
    // output) ran fastest, on 2 threads sharing an 8 MB L3, for ESRGAN's 32- and 64-channel
    // convolutions (0.80 -> 0.88 of the sgemm rate at 256x256, 0.75 -> 0.89 at 1024x1024),
    // without slowing SD's 320 and 512-channel ones.
    let bytesPerOutputRow = 4 * (channels + outChannels) * pitch * MemoryLayout<Float>.size
    let bandRows = g.bandRows(threads: Parallel.threadCount, bytesPerOutputRow: bytesPerOutputRow)
    let stagedPlane = (bandRows + g.kernelHeight - 1) * pitch
    let scratchCount = channels * stagedPlane + outChannels * bandRows * pitch
    forEachBand(of: g, rows: bandRows, scratchCount: scratchCount) { rows, scratch in
        let staged = scratch
        let wide = scratch + channels * stagedPlane
        let bandPlane = (rows.count + g.kernelHeight - 1) * pitch
        stageRows(rows.lowerBound - g.padding.top ..< rows.upperBound - g.padding.top + g.kernelHeight - 1,
                  of: source, image: image, mappedBy: inputAffine, into: staged, stagedPlane: bandPlane, geometry: g)
        // Wide pixel (r, x) is r * pitch + x; the last one stored is (rows - 1, outWidth - 1).
        let wideCount = (rows.count - 1) * pitch + g.outWidth
        for tap in 0..<taps {
            let (ky, kx) = (tap / g.kernelWidth, tap % g.kernelWidth)
            backend.sgemm(m: outChannels, n: wideCount, k: channels,
                          a: tapWeights + tap * outChannels * channels, lda: channels,
                          b: staged + ky * pitch + kx, ldb: bandPlane,
                          beta: tap == 0 ? 0 : 1, c: wide, ldc: wideCount)
        }
        // The discarded kw - 1 pixels between wide rows are not the convolution's work: the
        // count stays that of the convolution, as benchmarks divide by it.
        FlopCounter.add(-2 * outChannels * channels * taps * (rows.count - 1) * (g.kernelWidth - 1))
        for channel in 0..<outChannels {
            for (index, row) in rows.enumerated() {
                store.finish(channel: channel, pixels: row * g.outWidth, count: g.outWidth,
                             from: wide + channel * wideCount + index * pitch)
            }
        }
    }
}

/// The weights tap-major, tap t's [outChannels, C] matrix with unit column stride as sgemm
/// needs it; the caller deallocates.
// weights: [outChannels, C, kh, kw] -> [kh * kw, outChannels, C]
private func tapMajor(
    _ weights: UnsafePointer<Float>, outChannels: Int, geometry g: ConvGeometry
) -> UnsafeMutablePointer<Float> {
    let (taps, channels) = (g.kernelHeight * g.kernelWidth, g.inChannels)
    let reordered = UnsafeMutablePointer<Float>.allocate(capacity: taps * outChannels * channels)
    // The weights are read once, in order; each output channel's kh*kw destination rows (C
    // floats each) stay in cache while they fill. Tap by tap, the panel (up to 32 MB) was read
    // kh*kw times over.
    Parallel.forEachRange(count: outChannels, minimumBlock: max(1, 65_536 / max(1, taps * channels))) { outs in
        for out in outs {
            let from = weights + out * channels * taps
            let rows = reordered + out * channels
            for channel in 0..<channels {
                for tap in 0..<taps { rows[tap * outChannels * channels + channel] = from[channel * taps + tap] }
            }
        }
    }
    return reordered
}

/// Copies input rows `inputRows` (out-of-image rows become zeros) of every channel of image
/// `image` into `staged`, each row mapped by `affine` and widened to `paddedWidth` with zeros
/// either side (the padding is the mapped tensor's, so it stays zero).
// source: [C, H, W] -> staged: C planes of stagedPlane floats
private func stageRows(
    _ inputRows: Range<Int>, of source: UnsafePointer<Float>, image: Int, mappedBy affine: ChannelAffine?,
    into staged: UnsafeMutablePointer<Float>, stagedPlane: Int, geometry g: ConvGeometry
) {
    let pitch = g.paddedWidth
    for channel in 0..<g.inChannels {
        var destination = staged + channel * stagedPlane
        let plane = source + channel * g.inPlane
        for row in inputRows {
            if row < 0 || row >= g.height {
                destination.update(repeating: 0, count: pitch)
            } else {
                destination.update(repeating: 0, count: g.padding.left)
                let sourceWidth = g.width / g.upsampling
                let from = plane + (row / g.upsampling) * sourceWidth
                let to = destination + g.padding.left
                if g.upsampling == 1 {
                    to.update(from: from, count: g.width)
                } else {
                    upsampleRow(from, into: to, count: g.width, factor: g.upsampling)
                }
                affine?.apply(to, count: g.width, image: image, channel: channel, channels: g.inChannels)
                (destination + g.padding.left + g.width).update(repeating: 0, count: g.padding.right)
            }
            destination += pitch
        }
    }
}

/// `count` floats of `source` nearest-upsampled by `factor` (each source float `factor` times
/// over), in runs rather than with a division per float.
func upsampleRow(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int, factor: Int) {
    var (written, read) = (0, 0)
    while written < count {
        let run = min(factor, count - written)
        (destination + written).update(repeating: source[read], count: run)
        written += run
        read += 1
    }
}

/// One image of a strided convolution: each band is im2col then
/// `out[:, band] = bias + weight @ columns`, then the epilogue while the band is in cache.
// source: [C, H, W], weights: [outChannels, C*kh*kw] -> outChannels planes of OH*OW
private func convolveByColumns(
    _ source: UnsafePointer<Float>, weights: UnsafePointer<Float>, outChannels: Int, store: ConvStore,
    geometry g: ConvGeometry, backend: GEMMBackend
) {
    let bytesPerOutputRow = g.columnRows * g.outWidth * MemoryLayout<Float>.size
    let bandRows = g.bandRows(threads: Parallel.threadCount, bytesPerOutputRow: bytesPerOutputRow)
    forEachBand(of: g, rows: bandRows, scratchCount: g.columnRows * bandRows * g.outWidth) { rows, columns in
        let bandWidth = rows.count * g.outWidth
        let first = rows.lowerBound * g.outWidth
        for columnRow in 0..<g.columnRows {
            fillColumnRow(columnRow, of: source, outputRows: rows, into: columns + columnRow * bandWidth, geometry: g)
        }
        store.fillBias(channels: outChannels, pixels: first, count: bandWidth)
        backend.sgemm(m: outChannels, n: bandWidth, k: g.columnRows,
                      a: weights, lda: g.columnRows, b: columns, ldb: bandWidth,
                      beta: 1, c: store.target + first, ldc: store.plane)
        store.finishInPlace(channels: outChannels, pixels: first, count: bandWidth)
    }
}

/// One im2col row: the input pixel under kernel tap (ky, kx) of channel c for every output
/// pixel of the band, zero where the tap falls into the padding.
private func fillColumnRow(
    _ columnRow: Int, of source: UnsafePointer<Float>, outputRows: Range<Int>,
    into row: UnsafeMutablePointer<Float>, geometry g: ConvGeometry
) {
    let kernelPlane = g.kernelHeight * g.kernelWidth
    let channel = columnRow / kernelPlane
    let ky = (columnRow % kernelPlane) / g.kernelWidth
    let kx = columnRow % g.kernelWidth
    let plane = source + channel * g.inPlane
    // Output columns whose tap lands inside the image: 0 <= ox * stride - left + kx < width.
    let firstX = min(g.outWidth, max(0, (g.padding.left - kx + g.stride - 1) / g.stride))
    let lastReach = g.width - 1 + g.padding.left - kx
    let endX = lastReach < 0 ? firstX : max(firstX, min(g.outWidth, lastReach / g.stride + 1))
    var destination = row
    for oy in outputRows {
        let iy = oy * g.stride - g.padding.top + ky
        if iy < 0 || iy >= g.height || firstX == endX {
            destination.initialize(repeating: 0, count: g.outWidth)
        } else {
            destination.initialize(repeating: 0, count: firstX)
            let inputRow = plane + iy * g.width - g.padding.left + kx
            if g.stride == 1 {
                (destination + firstX).initialize(from: inputRow + firstX, count: endX - firstX)
            } else {
                for ox in firstX..<endX { destination[ox] = inputRow[ox * g.stride] }
            }
            (destination + endX).initialize(repeating: 0, count: g.outWidth - endX)
        }
        destination += g.outWidth
    }
}
