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
        /// Those with at least `minimumChannels` on both sides and `minimumTiles` per image.
        case sized
        /// Every one (tests compare the paths on small shapes).
        case always
        case never
    }

    /// Measured on 2 threads (AVX2) against the direct paths: 4 -> 320 and 320 -> 4 channels at
    /// 64x64 ran 2.7x slower and 2x faster; 64 -> 32 at 256x256 tied; 32 -> 32 and everything
    /// wider at 256x256 ran 1.3-2x faster.
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

    /// x B for a row x of a 4x4 tile (Bᵀ d B applies this to each row of Bᵀ d).
    @inline(__always)
    static func inputRow(_ x: SIMD4<Float>) -> SIMD4<Float> {
        SIMD4(x[0] - x[2], x[1] + x[2], x[2] - x[1], x[1] - x[3])
    }

    /// The two outputs of y A for a row y of Aᵀ m.
    @inline(__always)
    static func outputPair(_ y: SIMD4<Float>) -> SIMD2<Float> {
        SIMD2(y[0] + y[1] + y[2], y[1] - y[2] - y[3])
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

    /// Floats of a staged input row: the 2 columns of every tile, plus the last tile's overlap.
    var stagedWidth: Int { 2 * columns + 2 }
}

/// One panel of output channels of a Winograd convolution over every image, a band of tile rows
/// at a time: the input transform threaded over input channels, the 16 products over
/// positions, the output transform (with the bias and epilogue) over output channels.
// input: N images of [C, H, W], transformedWeights: [16, outChannels, C] -> stores[n]: outChannels planes of OH*OW
func convolveByWinograd(
    _ input: UnsafePointer<Float>, transformedWeights: UnsafePointer<Float>, outChannels: Int, stores: [ConvStore],
    geometry g: ConvGeometry, backend: GEMMBackend
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
            transformInput(input, channels: channels, tileRows: band, tiling: tiling, into: inputs,
                           positionStride: inputStride, geometry: g)
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
/// stored as `inputs[ξ][channel][tile]`. Each tile row's four input rows are staged zero-padded first, so
/// the transform reads no bounds.
private func transformInput(
    _ input: UnsafePointer<Float>, channels: Range<Int>, tileRows: Range<Int>, tiling: WinogradTiling,
    into inputs: UnsafeMutablePointer<Float>, positionStride: Int, geometry g: ConvGeometry
) {
    let width = tiling.stagedWidth
    let staged = UnsafeMutablePointer<Float>.allocate(capacity: 4 * width)
    defer { staged.deallocate() }
    let tiles = tileRows.count * tiling.columns
    for channel in channels {
        for tileRow in tileRows {
            let (image, imageRow) = tiling.locate(tileRow)
            let plane = input + image * g.inputImageStride + channel * g.inPlane
            let firstInputRow = 2 * imageRow - g.padding.top
            for r in 0..<4 { stage(row: firstInputRow + r, of: plane, into: staged + r * width, width: width, geometry: g) }
            let destination = inputs + channel * tiles + (tileRow - tileRows.lowerBound) * tiling.columns
            for column in 0..<tiling.columns {
                let d = staged + 2 * column
                let (s0, s1, s2, s3) = (load4(d), load4(d + width), load4(d + 2 * width), load4(d + 3 * width))
                // Bᵀ d, then each row times B.
                let rows = (s0 - s2, s1 + s2, s2 - s1, s1 - s3)
                store(Winograd.inputRow(rows.0), at: destination + column, position: 0, stride: positionStride)
                store(Winograd.inputRow(rows.1), at: destination + column, position: 4, stride: positionStride)
                store(Winograd.inputRow(rows.2), at: destination + column, position: 8, stride: positionStride)
                store(Winograd.inputRow(rows.3), at: destination + column, position: 12, stride: positionStride)
            }
        }
    }
}

/// Input row `row` of one channel's plane (nearest-upsampled where the geometry says so), zero
/// outside the image, shifted so that staged column 2t is the first input column of tile column t.
private func stage(
    row: Int, of plane: UnsafePointer<Float>, into staged: UnsafeMutablePointer<Float>, width: Int, geometry g: ConvGeometry
) {
    guard row >= 0 && row < g.height else {
        staged.update(repeating: 0, count: width)
        return
    }
    // Staged column j is input column j - left.
    let first = min(width, g.padding.left)
    let end = max(first, min(width, g.width + g.padding.left))
    staged.update(repeating: 0, count: first)
    let sourceRow = plane + (row / g.upsampling) * (g.width / g.upsampling)
    if g.upsampling == 1 {
        (staged + first).update(from: sourceRow + first - g.padding.left, count: end - first)
    } else {
        for column in first..<end { staged[column] = sourceRow[(column - g.padding.left) / g.upsampling] }
    }
    (staged + end).update(repeating: 0, count: width - end)
}

/// Y = Aᵀ m A for every tile of `tileRows` and each output channel of `channels`: two output
/// rows per tile row, finished by the store (bias, epilogue) as they are written.
private func transformOutput(
    _ products: UnsafePointer<Float>, channels: Range<Int>, positionStride: Int, tileRows: Range<Int>,
    tiling: WinogradTiling, stores: [ConvStore], geometry g: ConvGeometry
) {
    let rowWidth = 2 * tiling.columns
    let outputRows = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rowWidth)
    defer { outputRows.deallocate() }
    let tiles = tileRows.count * tiling.columns
    for channel in channels {
        for tileRow in tileRows {
            let m = products + channel * tiles + (tileRow - tileRows.lowerBound) * tiling.columns
            for column in 0..<tiling.columns {
                let (m0, m1, m2, m3) = (gather(m + column, position: 0, stride: positionStride),
                                        gather(m + column, position: 4, stride: positionStride),
                                        gather(m + column, position: 8, stride: positionStride),
                                        gather(m + column, position: 12, stride: positionStride))
                // Aᵀ m, then each of its two rows times A.
                let top = Winograd.outputPair(m0 + m1 + m2)
                let bottom = Winograd.outputPair(m1 - m2 - m3)
                outputRows[2 * column] = top[0]
                outputRows[2 * column + 1] = top[1]
                outputRows[rowWidth + 2 * column] = bottom[0]
                outputRows[rowWidth + 2 * column + 1] = bottom[1]
            }
            let (image, imageRow) = tiling.locate(tileRow)
            for r in 0..<tiling.outputRows(tileRow, geometry: g) {
                stores[image].finish(channel: channel, pixels: (2 * imageRow + r) * g.outWidth, count: g.outWidth,
                                     from: outputRows + r * rowWidth)
            }
        }
    }
}

@inline(__always)
private func load4(_ pointer: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Float>.self)
}

/// Stores the four values of one transformed-tile row at positions `position..<position + 4`.
@inline(__always)
private func store(_ values: SIMD4<Float>, at tile: UnsafeMutablePointer<Float>, position: Int, stride: Int) {
    for j in 0..<4 { tile[(position + j) * stride] = values[j] }
}

/// The values at positions `position..<position + 4` of one tile's products.
@inline(__always)
private func gather(_ tile: UnsafePointer<Float>, position: Int, stride: Int) -> SIMD4<Float> {
    SIMD4(tile[position * stride], tile[(position + 1) * stride], tile[(position + 2) * stride], tile[(position + 3) * stride])
}
