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

/// torch.nn.functional.conv2d with zero padding, dilation 1 and groups 1.
///
/// A 1x1 stride-1 unpadded convolution is one sgemm per image. Others go through im2col
/// and sgemm, a band of output rows at a time on each thread, so the threads' column buffers
/// together stay near `columnBudgetBytes` whatever the feature-map size.
// x: [N, C, H, W], weight: [O, C, kh, kw] (torch layout), bias: [O] -> [N, O, OH, OW]
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .zero
) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, columnBudgetBytes: 16 << 20)
}

/// torch-style `padding=p` on all sides.
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, OH, OW]
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: Padding2D(padding))
}

/// `columnBudgetBytes` bounds the im2col buffer; tests shrink it to exercise banding.
// x: [N, C, H, W], weight: [O, C, kh, kw], bias: [O] -> [N, O, OH, OW]
func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Padding2D, columnBudgetBytes: Int
) -> Tensor {
    let geometry = ConvGeometry(input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                                columnBudgetBytes: columnBudgetBytes)
    if let bias { precondition(bias.shape == [geometry.outChannels], "conv2d bias \(bias.shape) is not [\(geometry.outChannels)]") }
    let outShape = [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth]
    let backend = GEMMBackend.active
    return Tensor(shape: outShape) { out in
        guard let outBase = out.baseAddress else { return }
        fillPlanes(outBase, planes: geometry.batch * geometry.outChannels, planeSize: geometry.outPlane, with: bias)
        x.withUnsafeBufferPointer { input in
            weight.withUnsafeBufferPointer { weights in
                guard let inBase = input.baseAddress, let weightBase = weights.baseAddress else { return }
                for image in 0..<geometry.batch {
                    let source = inBase + image * geometry.inChannels * geometry.inPlane
                    let target = outBase + image * geometry.outChannels * geometry.outPlane
                    if geometry.isPointwise {
                        backend.sgemm(m: geometry.outChannels, n: geometry.outPlane, k: geometry.inChannels,
                              a: weightBase, lda: geometry.inChannels, b: source, ldb: geometry.inPlane,
                              beta: 1, c: target, ldc: geometry.outPlane)
                    } else {
                        convolveImage(source, weights: weightBase, into: target, geometry: geometry, backend: backend)
                    }
                }
            }
        }
    }
}

/// Sets output plane `p` (channel `p % C`) to `bias[p % C]`, or zero without a bias.
private func fillPlanes(_ base: UnsafeMutablePointer<Float>, planes: Int, planeSize: Int, with bias: Tensor?) {
    let values = bias?.scalars
    Parallel.forEachRange(count: planes, minimumBlock: max(1, 65_536 / max(1, planeSize))) { range in
        for plane in range {
            let value = values.map { $0[plane % $0.count] } ?? 0
            (base + plane * planeSize).initialize(repeating: value, count: planeSize)
        }
    }
}

/// Sizes of one convolution, checked once.
struct ConvGeometry {
    let batch, inChannels, height, width: Int
    let outChannels, kernelHeight, kernelWidth: Int
    let stride: Int
    let padding: Padding2D
    let outHeight, outWidth: Int
    /// Upper bound on the im2col buffer; a band of output rows is sized to fit it.
    let columnBudgetBytes: Int

    init(input: [Int], weight: [Int], stride: Int, padding: Padding2D, columnBudgetBytes: Int) {
        precondition(input.count == 4, "conv2d input must be [N, C, H, W], got \(input)")
        precondition(weight.count == 4, "conv2d weight must be [O, C, kh, kw], got \(weight)")
        precondition(input[1] == weight[1], "conv2d input \(input) has not the \(weight[1]) channels of weight \(weight)")
        precondition(stride >= 1, "conv2d stride must be positive, got \(stride)")
        (batch, inChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outChannels, kernelHeight, kernelWidth) = (weight[0], weight[2], weight[3])
        self.stride = stride
        self.padding = padding
        self.columnBudgetBytes = columnBudgetBytes
        outHeight = (height + padding.top + padding.bottom - kernelHeight) / stride + 1
        outWidth = (width + padding.left + padding.right - kernelWidth) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "conv2d kernel \(weight) larger than padded input \(input)")
    }

    var inPlane: Int { height * width }
    var outPlane: Int { outHeight * outWidth }
    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    var columnRows: Int { inChannels * kernelHeight * kernelWidth }
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .zero }

    /// Output rows per im2col band: every thread gets at least one band, and the `threads`
    /// column buffers together fit the budget.
    func bandRows(threads: Int) -> Int {
        let bytesPerOutputRow = columnRows * outWidth * MemoryLayout<Float>.size
        let perThread = (outHeight + threads - 1) / threads
        let fitting = max(1, columnBudgetBytes / threads / bytesPerOutputRow)
        let bandsPerThread = (perThread + fitting - 1) / fitting
        return (perThread + bandsPerThread - 1) / bandsPerThread
    }
}

/// One image: the output rows are split into bands, each thread taking a contiguous run of
/// them with its own column buffer, and every band is im2col then `out[:, band] += weight @ columns`
/// with single-threaded BLAS. Threading the bands rather than im2col and sgemm separately keeps
/// both cores busy throughout: a threaded sgemm's workers spin between calls and starve a
/// separately threaded im2col, and thin convolutions (64 channels) spend as long in im2col as
/// in the multiply. Measured against that older scheme in one release run (2 threads, loaded
/// machine): 3x3 512 channels at 128x128 0.65 -> 0.99 of the sgemm rate, 64 channels at
/// 256x256 0.59 -> 0.70, 320 channels at 64x64 (batch 2) 0.77 -> 0.82.
// source: [C, H, W], weights: [O, C*kh*kw], target: [O, OH*OW]
private func convolveImage(
    _ source: UnsafePointer<Float>, weights: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
    geometry: ConvGeometry, backend: GEMMBackend
) {
    let threads = Parallel.threadCount
    let bandRows = geometry.bandRows(threads: threads)
    let bandCount = (geometry.outHeight + bandRows - 1) / bandRows
    let bufferCount = geometry.columnRows * bandRows * geometry.outWidth
    Parallel.withSingleThreadedBLAS {
        Parallel.forEachRange(count: bandCount, minimumBlock: 1) { bands in
            let columns = UnsafeMutablePointer<Float>.allocate(capacity: bufferCount)
            defer { columns.deallocate() }
            for band in bands {
                let firstRow = band * bandRows
                convolveBand(firstRow..<min(geometry.outHeight, firstRow + bandRows), of: source, weights: weights,
                             into: target, columns: columns, geometry: geometry, backend: backend)
            }
        }
    }
}

/// Output rows `rows` of one image; bands write disjoint output columns.
// columns: scratch of at least columnRows * rows.count * outWidth
private func convolveBand(
    _ rows: Range<Int>, of source: UnsafePointer<Float>, weights: UnsafePointer<Float>,
    into target: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, geometry: ConvGeometry,
    backend: GEMMBackend
) {
    let bandWidth = rows.count * geometry.outWidth
    for columnRow in 0..<geometry.columnRows {
        fillColumnRow(columnRow, of: source, outputRows: rows, into: columns + columnRow * bandWidth,
                      geometry: geometry)
    }
    backend.sgemm(m: geometry.outChannels, n: bandWidth, k: geometry.columnRows,
                  a: weights, lda: geometry.columnRows, b: columns, ldb: bandWidth,
                  beta: 1, c: target + rows.lowerBound * geometry.outWidth, ldc: geometry.outPlane)
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
