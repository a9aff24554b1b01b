import Foundation
import Imaging
import Tensors

/// diffusers' VaeImageProcessor for Stable Diffusion: images to VAE input and decoded
/// samples back to 8-bit images.
enum ImageConversion {
    /// The size diffusers works at: each side floored to a multiple of `multiple`
    /// (`get_default_height_width`).
    static func workingSize(width: Int, height: Int, multiple: Int) throws -> (width: Int, height: Int) {
        let size = (width: width - width % multiple, height: height - height % multiple)
        guard size.width > 0, size.height > 0 else {
            throw PipelinesError.imageTooSmall(width: width, height: height, multiple: multiple)
        }
        return size
    }

    /// `preprocess` of an image: RGB as `rgbTensor` makes it, scaled to [-1, 1].
    // -> [1, 3, height, width]
    static func vaeInput(_ image: Image, width: Int, height: Int) -> Tensor {
        rgbTensor(image, width: width, height: height) * 2 - 1
    }

    /// An image as diffusers' processors see it before normalising: RGB (as PIL's
    /// `convert("RGB")`: gray replicated, alpha dropped), resized with Lanczos to the working
    /// size if it differs, in 0...1. PIL resizes an 8-bit image to 8 bits, so an 8-bit image is
    /// rounded back to 8 bits after resizing (PIL also rounds between its two passes: a level
    /// of difference remains).
    // -> [1, 3, height, width]
    static func rgbTensor(_ image: Image, width: Int, height: Int) -> Tensor {
        var rgb = image
        if image.width != width || image.height != height {
            rgb = image.resized(width: width, height: height, filter: .lanczos3)
            if image.bitDepth == 8 { rgb.samples = rgb.samples.map { ($0 * 255).rounded() / 255 } }
        }
        let plane = width * height
        return Tensor(shape: [1, 3, height, width]) { out in
            rgb.samples.withUnsafeBufferPointer { samples in
                for pixel in 0..<plane {
                    for channel in 0..<3 {
                        let source = rgb.colorChannels == 1 ? 0 : channel
                        out[channel * plane + pixel] = samples[pixel * rgb.channels + source]
                    }
                }
            }
        }
    }

    /// The mask processor's `preprocess`: resized like the image when needed, then binarized
    /// at 0.5 (1 = repaint).
    // -> [1, 1, height, width]
    static func binaryMask(_ mask: Mask, width: Int, height: Int) -> Tensor {
        var resized = mask
        if mask.width != width || mask.height != height {
            let image = mask.image.resized(width: width, height: height, filter: .lanczos3)
            resized = Mask(width: width, height: height, values: image.samples.map { ($0 * 255).rounded() / 255 })
        }
        return Tensor(shape: [1, 1, height, width], scalars: resized.values.map { $0 < 0.5 ? 0 : 1 })
    }

    /// `torch.nn.functional.interpolate(mask, size=(h, w))` (mode "nearest"): each output
    /// takes the source at `floor(index * in / out)`, with the scale as a float32.
    // mask: [1, 1, H, W] -> [1, 1, height, width]
    static func nearestResized(_ mask: Tensor, width: Int, height: Int) -> Tensor {
        let sourceHeight = mask.shape[2], sourceWidth = mask.shape[3]
        let rows = nearestIndices(source: sourceHeight, target: height)
        let columns = nearestIndices(source: sourceWidth, target: width)
        return Tensor(shape: [1, 1, height, width]) { out in
            for (y, row) in rows.enumerated() {
                for (x, column) in columns.enumerated() {
                    out[y * width + x] = mask.scalars[row * sourceWidth + column]
                }
            }
        }
    }

    private static func nearestIndices(source: Int, target: Int) -> [Int] {
        let scale = Float(source) / Float(target)
        return (0..<target).map { min(Int((Float($0) * scale).rounded(.down)), source - 1) }
    }

    /// `postprocess` + `numpy_to_pil`: `(x / 2 + 0.5).clamp(0, 1)`, then `(v * 255).round()`
    /// (half to even, as numpy) to 8 bits.
    // decoded: [1, 3, height, width] -> RGB image
    static func image(fromDecoded decoded: Tensor) -> Image {
        let height = decoded.shape[2], width = decoded.shape[3]
        let plane = width * height
        var samples = [Float](repeating: 0, count: plane * 3)
        decoded.withUnsafeBufferPointer { values in
            for pixel in 0..<plane {
                for channel in 0..<3 {
                    let unit = min(max(values[channel * plane + pixel] / 2 + 0.5, 0), 1)
                    samples[pixel * 3 + channel] = (unit * 255).rounded(.toNearestOrEven) / 255
                }
            }
        }
        return Image(width: width, height: height, channels: 3, bitDepth: 8, samples: samples)
    }
}
