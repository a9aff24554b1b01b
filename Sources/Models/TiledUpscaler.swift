import Imaging
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
/// interpolation (Real-ESRGAN's `--alpha_upsampler` offers this or the model; bicubic costs
/// nothing and cannot hallucinate texture into a mask). The bit depth is kept. A `scale` other
/// than the network's runs it natively then resizes with Lanczos (Real-ESRGAN's `--outscale`,
/// which uses OpenCV's Lanczos4; this uses the Pillow-like Lanczos3 of `Image.resized`).
public struct TiledUpscaler: Sendable {
    public static let prePadding = 10

    public let network: any SuperResolutionNetwork
    /// Tile side in input pixels; 0 runs the whole image as one tile.
    public let tileSize: Int
    /// Input pixels shared by neighbouring tiles and cross-faded.
    public let tileOverlap: Int

    public init(network: any SuperResolutionNetwork, tileSize: Int = 256, tileOverlap: Int = 16) {
        self.network = network
        self.tileSize = max(0, tileSize)
        self.tileOverlap = max(0, min(tileOverlap, tileSize / 2))
    }

    /// `image` enlarged by `scale` (the network's own factor when nil).
    public func upscale(_ image: Image, scale: Double? = nil) -> Image {
        let native = network.scale
        let colour = colourPlanes(of: image)
        var rgb = upscaleRGB(colour, width: image.width, height: image.height)
        clampToUnit(&rgb)
        let (width, height) = (image.width * native, image.height * native)
        var result: Image
        if image.hasAlpha || image.colorChannels == 1 {
            let alpha = image.hasAlpha
                ? alphaChannel(of: image).resized(width: width, height: height, filter: .bicubic).samples : nil
            result = interleave(rgb, alpha: alpha, gray: image.colorChannels == 1, width: width, height: height,
                                bitDepth: image.bitDepth)
        } else {
            // The accumulated RGB already is the image's samples: the output is held once.
            result = Image(width: width, height: height, channels: 3, bitDepth: image.bitDepth, samples: rgb)
        }
        if let scale, scale != Double(native) {
            let target = (Int(Double(image.width) * scale), Int(Double(image.height) * scale))
            result = result.resized(width: max(1, target.0), height: max(1, target.1), filter: .lanczos3)
        }
        return result
    }

    /// The tiles' outputs cross-faded into one image. The linear fades of two neighbours sum to
    /// 1 across their overlap (tiles are at least twice the overlap), and so do their products
    /// at corners, so the weighted sum needs no normalising pass.
    // planes: [3, H, W] -> [sH, sW, 3], interleaved as Image stores it
    func upscaleRGB(_ planes: [Float], width: Int, height: Int) -> [Float] {
        let scale = network.scale
        let (outWidth, outHeight) = (width * scale, height * scale)
        var sum = [Float](repeating: 0, count: 3 * outWidth * outHeight)
        let columns = tileSpans(length: width)
        let rows = tileSpans(length: height)
        for (rowIndex, row) in rows.enumerated() {
            for (columnIndex, column) in columns.enumerated() {
                let output = runTile(planes, width: width, height: height, columns: column, rows: row)
                let fadeX = CrossFade(span: column, overlap: tileOverlap, scale: scale,
                                      fadeIn: columnIndex > 0, fadeOut: columnIndex < columns.count - 1)
                let fadeY = CrossFade(span: row, overlap: tileOverlap, scale: scale,
                                      fadeIn: rowIndex > 0, fadeOut: rowIndex < rows.count - 1)
                accumulate(output, into: &sum, outWidth: outWidth, fadeX: fadeX, fadeY: fadeY)
            }
        }
        return sum
    }

    /// Input ranges of the tiles along one side: `tileSize` long, `tileOverlap` shared.
    func tileSpans(length: Int) -> [Range<Int>] {
        guard tileSize > 0, length > tileSize else { return [0 ..< length] }
        let step = tileSize - tileOverlap
        let count = (length - tileOverlap + step - 1) / step
        return (0 ..< count).map { $0 * step ..< min(length, $0 * step + tileSize) }
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
                            fadeX: CrossFade, fadeY: CrossFade) {
        let (tileHeight, tileWidth) = (tile.tensor.shape[2], tile.tensor.shape[3])
        tile.tensor.withUnsafeBufferPointer { values in
            for y in 0 ..< tile.height {
                let weightY = fadeY.weight(at: y)
                for x in 0 ..< tile.width {
                    let weight = weightY * fadeX.weight(at: x)
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
    private func colourPlanes(of image: Image) -> [Float] {
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

    private func alphaChannel(of image: Image) -> Image {
        let alpha = (0 ..< image.pixelCount).map { image.samples[$0 * image.channels + image.channels - 1] }
        return Image(width: image.width, height: image.height, channels: 1, bitDepth: image.bitDepth, samples: alpha)
    }

    // rgb: [H, W, 3] -> the image's channels (gray and/or alpha)
    private func interleave(_ rgb: [Float], alpha: [Float]?, gray: Bool, width: Int, height: Int,
                            bitDepth: Int) -> Image {
        let plane = width * height
        let colours = gray ? 1 : 3
        let channels = colours + (alpha == nil ? 0 : 1)
        var samples = [Float](repeating: 0, count: plane * channels)
        for pixel in 0 ..< plane {
            let (r, g, b) = (rgb[3 * pixel], rgb[3 * pixel + 1], rgb[3 * pixel + 2])
            if gray {
                samples[pixel * channels] = 0.299 * r + 0.587 * g + 0.114 * b
            } else {
                (samples[pixel * channels], samples[pixel * channels + 1], samples[pixel * channels + 2]) = (r, g, b)
            }
            if let alpha { samples[pixel * channels + colours] = alpha[pixel] }
        }
        return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
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

/// Linear weights across the overlap with the previous (fade in) and next (fade out) tile.
private struct CrossFade {
    let length: Int
    let ramp: Float
    let fadeIn: Bool
    let fadeOut: Bool

    init(span: Range<Int>, overlap: Int, scale: Int, fadeIn: Bool, fadeOut: Bool) {
        length = span.count * scale
        ramp = Float(overlap * scale)
        self.fadeIn = fadeIn && overlap > 0
        self.fadeOut = fadeOut && overlap > 0
    }

    func weight(at position: Int) -> Float {
        var weight: Float = 1
        if fadeIn { weight = min(weight, (Float(position) + 0.5) / ramp) }
        if fadeOut { weight = min(weight, (Float(length - position) - 0.5) / ramp) }
        return weight
    }
}

/// torch's "reflect" padding index: mirrored about the edge samples, repeatedly if need be.
func reflect(_ index: Int, _ length: Int) -> Int {
    guard length > 1 else { return 0 }
    let period = 2 * (length - 1)
    let folded = ((index % period) + period) % period
    return folded < length ? folded : period - folded
}
