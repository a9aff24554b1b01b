import Foundation
import Imaging
import Models
import Tensors

/// Real-ESRGAN upscaling of whole images, any size, a tile at a time.
///
/// As realesrgan-ncnn-vulkan does, every tile is run with 10 px of context on each side
/// (`prePadding`), taken from the image where there is image and mirrored (torch's
/// `"reflect"`) beyond its edges, and only the tile's own pixels are kept. Neighbouring tiles
/// overlap by `tileOverlap` input pixels and are cross-faded linearly there, so seams do not
/// show; where the network's receptive field fits in the context the result is the untiled
/// one (the whole image mirror-padded by 10 px, run, cropped). Network activations are bounded
/// by the tile size; only the output image is held whole.
///
/// Channels: gray is replicated to RGB and converted back with Rec. 601 luma weights (as
/// Real-ESRGAN's `cv2.COLOR_BGR2GRAY`); alpha is upscaled separately with bicubic
/// interpolation (`withAlpha(upscaledFrom:)`). The bit depth is kept. A `scale` other than
/// the network's runs it natively then resizes with Lanczos (Real-ESRGAN's `--outscale`:
/// `outscaled`).
public struct RealESRGANUpscale: Sendable {
    public static let prePadding = 10

    public let network: any SuperResolutionNetwork

    public init(network: any SuperResolutionNetwork) {
        self.network = network
    }

    /// Opens a Real-ESRGAN model file (`loadSuperResolutionNetwork`: an ncnn `.param` with its
    /// `.bin`, or a `.safetensors`).
    public init(file url: URL) throws {
        self.init(network: try loadSuperResolutionNetwork(at: url))
    }

    /// The network's own factor.
    public var scale: Int { network.scale }

    /// `image` enlarged by `scale` (the network's own factor when nil), in tiles of `tileSize`
    /// input pixels (0 runs the whole image as one tile) sharing `tileOverlap` (at most half
    /// a tile).
    public func upscale(_ image: Imaging.Image, scale: Double? = nil, tileSize: Int = 256,
                        tileOverlap: Int = 16) -> Imaging.Image {
        upscale(image, scale: scale, tileSize: tileSize, tileOverlap: tileOverlap, beforeTile: { _, _ in })
    }

    /// The same, calling `progress` with the tile's index and count before each tile; when it
    /// returns false the upscale stops there and throws `PipelinesError.cancelled`.
    public func upscale(_ image: Imaging.Image, scale: Double? = nil, tileSize: Int = 256, tileOverlap: Int = 16,
                        progress: StepCallback) throws -> Imaging.Image {
        try upscale(image, scale: scale, tileSize: tileSize, tileOverlap: tileOverlap) { (tile, tiles) throws(PipelinesError) in
            guard progress(tile, tiles) else { throw .cancelled(step: tile) }
        }
    }

    private func upscale<Failure: Error>(_ image: Imaging.Image, scale: Double?, tileSize: Int, tileOverlap: Int,
                                         beforeTile: (Int, Int) throws(Failure) -> Void) throws(Failure) -> Imaging.Image {
        let layout = tileLayout(width: image.width, height: image.height, tileSize: tileSize, tileOverlap: tileOverlap)
        var rgb = try upscaleRGB(colourPlanes(of: image), width: image.width, height: image.height, layout: layout,
                                 beforeTile: beforeTile)
        clampToUnit(&rgb)
        let (width, height) = (image.width * network.scale, image.height * network.scale)
        // The accumulated RGB already is the image's samples: the output is held once.
        var result = Imaging.Image(width: width, height: height, channels: 3, bitDepth: image.bitDepth, samples: rgb)
        if image.colorChannels == 1 { result = luma(of: result) }
        if image.hasAlpha { result = result.withAlpha(upscaledFrom: image) }
        return result.outscaled(from: image, by: scale, native: network.scale)
    }

    /// The input tiles for an image of `width` x `height`: sides of `tileSize` (0: the whole
    /// side) sharing `tileOverlap` pixels (clamped to half a tile), the last cut at the edge.
    func tileLayout(width: Int, height: Int, tileSize: Int, tileOverlap: Int) -> TileLayout {
        let tile = max(0, tileSize)
        return TileLayout(width: width, height: height, tile: tile, overlap: max(0, min(tileOverlap, tile / 2)),
                          lastTile: .cut)
    }

    /// The tiles' outputs cross-faded into one image. The linear fades of two neighbours sum to
    /// 1 across their overlap (tiles are at least twice the overlap), and so do their products
    /// at corners, so the weighted sum needs no normalising pass.
    // planes: [3, H, W] -> [sH, sW, 3], interleaved as Image stores it
    private func upscaleRGB<Failure: Error>(_ planes: [Float], width: Int, height: Int, layout: TileLayout,
                                            beforeTile: (Int, Int) throws(Failure) -> Void) throws(Failure) -> [Float] {
        let scale = network.scale
        let outWidth = width * scale
        var sum = [Float](repeating: 0, count: 3 * outWidth * height * scale)
        let output = layout.scaled(by: scale)
        for (rowIndex, rows) in layout.rows.enumerated() {
            let weightsY = TileLayout.crossFade(output.rows, index: rowIndex)
            for (columnIndex, columns) in layout.columns.enumerated() {
                try beforeTile(rowIndex * layout.columns.count + columnIndex, layout.rows.count * layout.columns.count)
                let tile = runTile(planes, width: width, height: height, columns: columns, rows: rows)
                let weightsX = TileLayout.crossFade(output.columns, index: columnIndex)
                accumulate(tile, into: &sum, outWidth: outWidth, weightsX: weightsX, weightsY: weightsY)
            }
        }
        return sum
    }

    /// The network's output for the tile's own pixels: `[3, s*rows, s*columns]`.
    private func runTile(_ planes: [Float], width: Int, height: Int, columns: Range<Int>, rows: Range<Int>) -> TileOutput {
        let pad = Self.prePadding
        let multiple = network.inputMultiple
        let x0 = max(-pad, columns.lowerBound - pad)
        let y0 = max(-pad, rows.lowerBound - pad)
        var x1 = min(width + pad, columns.upperBound + pad)
        var y1 = min(height + pad, rows.upperBound + pad)
        x1 += (multiple - (x1 - x0) % multiple) % multiple
        y1 += (multiple - (y1 - y0) % multiple) % multiple
        let (tileWidth, tileHeight) = (x1 - x0, y1 - y0)
        let input = Tensor(shape: [1, 3, tileHeight, tileWidth]) { out in
            for channel in 0 ..< 3 {
                for y in 0 ..< tileHeight {
                    let sourceRow = (channel * height + reflect(y0 + y, height)) * width
                    let targetRow = (channel * tileHeight + y) * tileWidth
                    for x in 0 ..< tileWidth { out[targetRow + x] = planes[sourceRow + reflect(x0 + x, width)] }
                }
            }
        }
        let scale = network.scale
        return TileOutput(tensor: network(input), offsetX: (columns.lowerBound - x0) * scale,
                          offsetY: (rows.lowerBound - y0) * scale,
                          originX: columns.lowerBound * scale, originY: rows.lowerBound * scale,
                          width: columns.count * scale, height: rows.count * scale)
    }

    private func accumulate(_ tile: TileOutput, into sum: inout [Float], outWidth: Int,
                            weightsX: [Float], weightsY: [Float]) {
        let (tileHeight, tileWidth) = (tile.tensor.shape[2], tile.tensor.shape[3])
        tile.tensor.withUnsafeBufferPointer { values in
            for y in 0 ..< tile.height {
                let weightY = weightsY[y]
                for x in 0 ..< tile.width {
                    let weight = weightY * weightsX[x]
                    let target = (tile.originY + y) * outWidth + tile.originX + x
                    let source = (tile.offsetY + y) * tileWidth + tile.offsetX + x
                    for channel in 0 ..< 3 {
                        sum[3 * target + channel] += weight * values[channel * tileHeight * tileWidth + source]
                    }
                }
            }
        }
    }

    // -> [3, H, W]: RGB, gray replicated
    private func colourPlanes(of image: Imaging.Image) -> [Float] {
        let plane = image.pixelCount
        let colours = image.colorChannels
        var planes = [Float](repeating: 0, count: 3 * plane)
        for pixel in 0 ..< plane {
            for channel in 0 ..< 3 {
                planes[channel * plane + pixel] = image.samples[pixel * image.channels + min(channel, colours - 1)]
            }
        }
        return planes
    }

    /// The Rec. 601 luma of an RGB image.
    private func luma(of rgb: Imaging.Image) -> Imaging.Image {
        let samples = (0 ..< rgb.pixelCount).map { pixel in
            let (r, g, b) = (rgb.samples[3 * pixel], rgb.samples[3 * pixel + 1], rgb.samples[3 * pixel + 2])
            return 0.299 * r + 0.587 * g + 0.114 * b
        }
        return Imaging.Image(width: rgb.width, height: rgb.height, channels: 1, bitDepth: rgb.bitDepth, samples: samples)
    }

    private func clampToUnit(_ values: inout [Float]) {
        for index in values.indices { values[index] = min(max(values[index], 0), 1) }
    }
}

/// One tile's network output and where its own pixels go in the whole output.
private struct TileOutput {
    let tensor: Tensor
    let offsetX: Int, offsetY: Int
    let originX: Int, originY: Int
    let width: Int, height: Int
}

/// torch's "reflect" padding index: mirrored about the edge samples, repeatedly if need be.
func reflect(_ index: Int, _ length: Int) -> Int {
    guard length > 1 else { return 0 }
    let period = 2 * (length - 1)
    let folded = ((index % period) + period) % period
    return folded < length ? folded : period - folded
}
