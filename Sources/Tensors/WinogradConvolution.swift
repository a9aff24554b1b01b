/// Stride-1 3x3 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2015): each 2x2 block of outputs costs
/// 16 multiplies per (input, output) channel pair instead of 36, so the products shrink 2.25x
/// and the transforms around them are a few additions per value.
///
/// For a 4x4 input tile d and a 3x3 kernel g, the 2x2 output is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
/// Summed over input channels, the elementwise product becomes 16 matrix products, one per
/// position ξ of the 4x4 transformed tile: M[ξ] (O x tiles) = U[ξ] (O x C) · V[ξ] (C x tiles).
/// G holds halves and Bᵀ, Aᵀ only 0 and ±1, so the transforms add no rounding beyond their sums.
enum Winograd {
    /// Values in a transformed tile, and so products per band.
    static let positions = 16

    /// Which 3x3 stride-1 convolutions take this path.
    enum Rule {
        /// Those with at least `minimumChannels` on both sides and `minimumTiles` over the batch.
        case sized
        /// Every one (tests compare the paths on small shapes).
        case always
        case never
    }

    /// The rule convolutions started from this task follow: `sized`, unless `withRule` set another.
    static var activeRule: Rule { ruleOverride ?? .sized }

    @TaskLocal private static var ruleOverride: Rule?

    /// Runs `body` with every convolution it starts under `rule` (tests run whole models through
    /// one path).
    static func withRule<R>(_ rule: Rule, _ body: () throws -> R) rethrows -> R {
        try $ruleOverride.withValue(rule, operation: body)
    }

    /// Measured on 2 threads (AVX2) against the direct paths: 4 -> 320 and 320 -> 4 channels at
    /// 64x64 ran 2.7x slower and 2x faster; 64 -> 32 at 256x256 as fast to 1.3x faster; 32 -> 32
    /// and everything wider at 256x256 1.3-2x faster.
    static let minimumChannels = 32

    /// Tiles of all images below which the direct paths stay. With the UNet's batch of 2,
    /// 1280 channels at 16x16 (128 tiles) ran 1.5x faster here, at 8x8 (32 tiles) 1.16x slower:
    /// the products are too short to pay for transforming the weights.
    static let minimumTiles = 64

    /// Floats from one position's matrix of `floats` to the next: rounded up to 4 KB and then
    /// 64 bytes past it, so that the 16 positions a tile is written to (and read from) fall in
    /// different cache sets. At 4 KB multiples they all alias, and the input transform ran
    /// at half speed.
    static func positionStride(_ floats: Int) -> Int {
        (floats + 1023) / 1024 * 1024 + 16
    }

    /// Whether `g` is a convolution this path computes under `rule`.
    static func applies(to g: ConvGeometry, rule: Rule) -> Bool {
        guard g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 else { return false }
        switch rule {
        case .sized:
            let tiles = g.batch * ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
            return min(g.inChannels, g.outChannels) >= minimumChannels && tiles >= minimumTiles
        case .always: return true
        case .never: return false
        }
    }

    /// U = G g Gᵀ for every (output, input) channel pair of a panel, position-major as the
    /// products read it; the caller deallocates.
    // weights: [outChannels, C, 3, 3] -> [16, outChannels, C]
    static func transformedWeights(
        _ weights: UnsafePointer<Float>, outChannels: Int, inChannels: Int
    ) -> UnsafeMutablePointer<Float> {
        let pairs = outChannels * inChannels
        let stride = positionStride(pairs)
        let transformed = UnsafeMutablePointer<Float>.allocate(capacity: positions * stride)
        Parallel.forEachRange(count: pairs, minimumBlock: 4096) { range in
            for pair in range {
                let g = weights + pair * 9
                let (top, middle, bottom) = (kernelRow(g), kernelRow(g + 3), kernelRow(g + 6))
                // G g, then each of its rows times Gᵀ.
                let rows = (top, (top + middle + bottom) * 0.5, (top - middle + bottom) * 0.5, bottom)
                let destination = transformed + pair
                storeWeightRow(rows.0, at: destination, position: 0, stride: stride)
                storeWeightRow(rows.1, at: destination, position: 4, stride: stride)
                storeWeightRow(rows.2, at: destination, position: 8, stride: stride)
                storeWeightRow(rows.3, at: destination, position: 12, stride: stride)
            }
        }
        return transformed
    }

    /// Row t of G g times Gᵀ, stored at positions `position..<position + 4`.
    @inline(__always)
    private static func storeWeightRow(
        _ t: SIMD4<Float>, at pair: UnsafeMutablePointer<Float>, position: Int, stride: Int
    ) {
        let values = SIMD4(t[0], (t[0] + t[1] + t[2]) * 0.5, (t[0] - t[1] + t[2]) * 0.5, t[2])
        for j in 0..<4 { pair[(position + j) * stride] = values[j] }
    }

    @inline(__always)
    private static func kernelRow(_ g: UnsafePointer<Float>) -> SIMD4<Float> {
        SIMD4(g[0], g[1], g[2], 0)
    }

    /// Bᵀ x for four values x0...x3 of a tile (a column of its patch, or a row of Bᵀ d as xᵀ B),
    /// for four tiles at once, one per lane.
    @inline(__always)
    static func inputTransform(
        _ x0: SIMD4<Float>, _ x1: SIMD4<Float>, _ x2: SIMD4<Float>, _ x3: SIMD4<Float>
    ) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
        (x0 - x2, x1 + x2, x2 - x1, x1 - x3)
    }

    /// Aᵀ m for four values m0...m3 of a tile's products, for four tiles at once.
    @inline(__always)
    static func outputTransform(
        _ m0: SIMD4<Float>, _ m1: SIMD4<Float>, _ m2: SIMD4<Float>, _ m3: SIMD4<Float>
    ) -> (SIMD4<Float>, SIMD4<Float>) {
        (m0 + m1 + m2, m1 - m2 - m3)
    }
}

/// Tile counts of one image and how many tile rows a band takes. Bands run over the tile rows
/// of all images in turn, so that small images (the UNet's 16x16 level) make one band of all.
private struct WinogradTiling {
    let rows, columns: Int
    /// Tile rows of all images.
    let allRows: Int
    let bandRows: Int

    init(_ g: ConvGeometry, outChannels: Int) {
        rows = (g.outHeight + 1) / 2
        columns = (g.outWidth + 1) / 2
        allRows = g.batch * rows
        // The transformed input and the products of one band fit the scratch budget, but a band
        // keeps at least 256 tiles so that the products stay wide enough to run at speed.
        let bytesPerTileRow = Winograd.positions * (g.inChannels + outChannels) * columns * MemoryLayout<Float>.size
        let fitting = max(1, g.columnBudgetBytes / max(1, bytesPerTileRow))
        let wideEnough = (256 + columns - 1) / columns
        bandRows = min(allRows, max(fitting, wideEnough))
    }

    /// The image and its own tile row of tile row `row` of all images.
    func locate(_ row: Int) -> (image: Int, row: Int) {
        (row / rows, row % rows)
    }

    /// Output rows that tile row `row` of all images covers (the last may have one).
    func outputRows(_ row: Int, geometry g: ConvGeometry) -> Int {
        min(2, g.outHeight - 2 * locate(row).row)
    }

    /// Tiles are transformed four at a time; a row's last group may reach past its tiles.
    var paddedColumns: Int { (columns + 3) / 4 * 4 }

    /// Floats of a staged input row: the 2 columns of every tile of the padded row, plus the
    /// last tile's overlap.
    var stagedWidth: Int { 2 * paddedColumns + 2 }
}

/// One panel of output channels of a Winograd convolution over every image, a band of tile rows
/// at a time: the input transform threaded over input channels, the 16 products over
/// positions, the output transform (with the bias and epilogue) over output channels.
// input: N images of [C, H, W], transformedWeights: [16, outChannels, C] -> stores[n]: outChannels planes of OH*OW
func convolveByWinograd(
    _ input: UnsafePointer<Float>, inputAffine: ChannelAffine?, transformedWeights: UnsafePointer<Float>,
    outChannels: Int, stores: [ConvStore], geometry g: ConvGeometry, backend: GEMMBackend
) {
    let tiling = WinogradTiling(g, outChannels: outChannels)
    let bandCapacity = tiling.bandRows * tiling.columns
    let inputs = UnsafeMutablePointer<Float>.allocate(
        capacity: Winograd.positions * Winograd.positionStride(g.inChannels * bandCapacity))
    let products = UnsafeMutablePointer<Float>.allocate(
        capacity: Winograd.positions * Winograd.positionStride(outChannels * bandCapacity))
    let weightStride = Winograd.positionStride(outChannels * g.inChannels)
    defer {
        inputs.deallocate()
        products.deallocate()
    }
    for firstRow in stride(from: 0, to: tiling.allRows, by: tiling.bandRows) {
        let band = firstRow ..< min(tiling.allRows, firstRow + tiling.bandRows)
        let tiles = band.count * tiling.columns
        let (inputStride, productStride) = (Winograd.positionStride(g.inChannels * tiles),
                                            Winograd.positionStride(outChannels * tiles))
        Parallel.forEachRange(count: g.inChannels, minimumBlock: 1) { channels in
            transformInput(input, mappedBy: inputAffine, channels: channels, tileRows: band, tiling: tiling,
                           into: inputs, positionStride: inputStride, geometry: g)
        }
        Parallel.forEachRange(count: Winograd.positions, minimumBlock: 1) { positions in
            for position in positions {
                backend.sgemm(m: outChannels, n: tiles, k: g.inChannels,
                              a: transformedWeights + position * weightStride, lda: g.inChannels,
                              b: inputs + position * inputStride, ldb: tiles,
                              c: products + position * productStride, ldc: tiles)
            }
        }
        Parallel.forEachRange(count: outChannels, minimumBlock: 1) { channels in
            transformOutput(products, channels: channels, positionStride: productStride, tileRows: band,
                            tiling: tiling, stores: stores, geometry: g)
        }
        // Benchmarks divide by the direct convolution's work, so the count stays that.
        let outputRows = band.reduce(0) { $0 + tiling.outputRows($1, geometry: g) }
        let direct = 2 * outChannels * g.inChannels * 9 * outputRows * g.outWidth
        FlopCounter.add(direct - 2 * Winograd.positions * outChannels * g.inChannels * tiles)
    }
}

/// V = Bᵀ d B for every tile of `tileRows` (of all images) and each channel of `channels`,
/// stored as `inputs[ξ][channel][tile]`. Each tile row's four input rows are staged
/// zero-padded (and mapped by `affine`) first, so the transform reads no bounds; the next tile
/// row of the same image shares two of them, which are kept rather than staged again.
private func transformInput(
    _ input: UnsafePointer<Float>, mappedBy affine: ChannelAffine?, channels: Range<Int>, tileRows: Range<Int>,
    tiling: WinogradTiling, into inputs: UnsafeMutablePointer<Float>, positionStride: Int, geometry g: ConvGeometry
) {
    let width = tiling.stagedWidth
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 4 * width)
    defer { buffer.deallocate() }
    var rows = (0..<4).map { buffer + $0 * width }
    let tiles = tileRows.count * tiling.columns
    for channel in channels {
        var previous: (image: Int, row: Int)?
        for tileRow in tileRows {
            let (image, imageRow) = tiling.locate(tileRow)
            let plane = input + image * g.inputImageStride + channel * g.inPlane
            let firstInputRow = 2 * imageRow - g.padding.top
            let sharesTwoRows = previous.map { $0.image == image && $0.row + 1 == imageRow } ?? false
            if sharesTwoRows {
                rows.swapAt(0, 2)
                rows.swapAt(1, 3)
            }
            for r in (sharesTwoRows ? 2 : 0)..<4 {
                let inImage = stage(row: firstInputRow + r, of: plane, into: rows[r], width: width, geometry: g)
                affine?.apply(rows[r] + inImage.lowerBound, count: inImage.count, image: image, channel: channel,
                              channels: g.inChannels)
            }
            previous = (image, imageRow)
            let destination = inputs + channel * tiles + (tileRow - tileRows.lowerBound) * tiling.columns
            for column in stride(from: 0, to: tiling.columns, by: 4) {
                let (s0, s1, s2, s3) = (patchColumns(rows[0] + 2 * column), patchColumns(rows[1] + 2 * column),
                                        patchColumns(rows[2] + 2 * column), patchColumns(rows[3] + 2 * column))
                // Bᵀ d column by column, then each of its rows times B.
                let k0 = Winograd.inputTransform(s0.0, s1.0, s2.0, s3.0)
                let k1 = Winograd.inputTransform(s0.1, s1.1, s2.1, s3.1)
                let k2 = Winograd.inputTransform(s0.2, s1.2, s2.2, s3.2)
                let k3 = Winograd.inputTransform(s0.3, s1.3, s2.3, s3.3)
                let lanes = min(4, tiling.columns - column)
                let tile = destination + column
                store(Winograd.inputTransform(k0.0, k1.0, k2.0, k3.0), at: tile, position: 0, stride: positionStride, lanes: lanes)
                store(Winograd.inputTransform(k0.1, k1.1, k2.1, k3.1), at: tile, position: 4, stride: positionStride, lanes: lanes)
                store(Winograd.inputTransform(k0.2, k1.2, k2.2, k3.2), at: tile, position: 8, stride: positionStride, lanes: lanes)
                store(Winograd.inputTransform(k0.3, k1.3, k2.3, k3.3), at: tile, position: 12, stride: positionStride, lanes: lanes)
            }
        }
    }
}

/// Patch columns 0...3 of four neighbouring tiles whose patches start at `row`, `row + 2`, ...
/// of a staged row: tile t's column k is `row[2t + k]`, so the even and odd floats.
@inline(__always)
private func patchColumns(_ row: UnsafePointer<Float>) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
    let low = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<Float>.self)
    let high = UnsafeRawPointer(row + 2).loadUnaligned(as: SIMD8<Float>.self)
    return (low.evenHalf, low.oddHalf, high.evenHalf, high.oddHalf)
}

/// Stores one row (positions `position..<position + 4`) of four tiles' transforms, the first
/// `lanes` tiles of them.
@inline(__always)
private func store(
    _ row: (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>), at tile: UnsafeMutablePointer<Float>,
    position: Int, stride: Int, lanes: Int
) {
    func store(_ values: SIMD4<Float>, _ j: Int) {
        let destination = tile + (position + j) * stride
        if lanes == 4 {
            UnsafeMutableRawPointer(destination).storeBytes(of: values, as: SIMD4<Float>.self)
        } else {
            for lane in 0..<lanes { destination[lane] = values[lane] }
        }
    }
    store(row.0, 0)
    store(row.1, 1)
    store(row.2, 2)
    store(row.3, 3)
}

/// Input row `row` of one channel's plane (nearest-upsampled where the geometry says so), zero
/// outside the image, shifted so that staged column 2t is the first input column of tile column t.
/// Returns the staged columns that hold the image's floats.
private func stage(
    row: Int, of plane: UnsafePointer<Float>, into staged: UnsafeMutablePointer<Float>, width: Int, geometry g: ConvGeometry
) -> Range<Int> {
    guard row >= 0 && row < g.height else {
        staged.update(repeating: 0, count: width)
        return 0..<0
    }
    // Staged column j is input column j - left.
    let first = min(width, g.padding.left)
    let end = max(first, min(width, g.width + g.padding.left))
    staged.update(repeating: 0, count: first)
    let sourceRow = plane + (row / g.upsampling) * (g.width / g.upsampling)
    if g.upsampling == 1 {
        (staged + first).update(from: sourceRow + first - g.padding.left, count: end - first)
    } else {
        upsampleRow(sourceRow, into: staged + first, count: end - first, factor: g.upsampling)
    }
    (staged + end).update(repeating: 0, count: width - end)
    return first..<end
}

/// Y = Aᵀ m A for every tile of `tileRows` and each output channel of `channels`: two output
/// rows per tile row, finished by the store (bias, epilogue) as they are written.
private func transformOutput(
    _ products: UnsafePointer<Float>, channels: Range<Int>, positionStride: Int, tileRows: Range<Int>,
    tiling: WinogradTiling, stores: [ConvStore], geometry g: ConvGeometry
) {
    let rowWidth = 2 * tiling.paddedColumns
    let outputRows = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rowWidth)
    defer { outputRows.deallocate() }
    let tiles = tileRows.count * tiling.columns
    for channel in channels {
        for tileRow in tileRows {
            let m = products + channel * tiles + (tileRow - tileRows.lowerBound) * tiling.columns
            // A row's last group may read past its tiles, into the next row or the position's padding.
            for column in stride(from: 0, to: tiling.columns, by: 4) {
                let tile = m + column
                let (m0, m1, m2, m3) = (productRow(tile, position: 0, stride: positionStride),
                                        productRow(tile, position: 4, stride: positionStride),
                                        productRow(tile, position: 8, stride: positionStride),
                                        productRow(tile, position: 12, stride: positionStride))
                // Aᵀ m column by column, then each of its two rows times A.
                let k0 = Winograd.outputTransform(m0.0, m1.0, m2.0, m3.0)
                let k1 = Winograd.outputTransform(m0.1, m1.1, m2.1, m3.1)
                let k2 = Winograd.outputTransform(m0.2, m1.2, m2.2, m3.2)
                let k3 = Winograd.outputTransform(m0.3, m1.3, m2.3, m3.3)
                storePairs(Winograd.outputTransform(k0.0, k1.0, k2.0, k3.0), at: outputRows + 2 * column)
                storePairs(Winograd.outputTransform(k0.1, k1.1, k2.1, k3.1), at: outputRows + rowWidth + 2 * column)
            }
            let (image, imageRow) = tiling.locate(tileRow)
            for r in 0..<tiling.outputRows(tileRow, geometry: g) {
                stores[image].finish(channel: channel, pixels: (2 * imageRow + r) * g.outWidth, count: g.outWidth,
                                     from: outputRows + r * rowWidth)
            }
        }
    }
}

/// Positions `position..<position + 4` of four neighbouring tiles' products, one tile per lane.
@inline(__always)
private func productRow(
    _ tile: UnsafePointer<Float>, position: Int, stride: Int
) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
    func load(_ j: Int) -> SIMD4<Float> {
        UnsafeRawPointer(tile + (position + j) * stride).loadUnaligned(as: SIMD4<Float>.self)
    }
    return (load(0), load(1), load(2), load(3))
}

/// Four tiles' two outputs of one row, interleaved tile by tile into 8 floats of an output row.
@inline(__always)
private func storePairs(_ pair: (SIMD4<Float>, SIMD4<Float>), at row: UnsafeMutablePointer<Float>) {
    let (left, right) = pair
    let values = SIMD8(left[0], right[0], left[1], right[1], left[2], right[2], left[3], right[3])
    UnsafeMutableRawPointer(row).storeBytes(of: values, as: SIMD8<Float>.self)
}
