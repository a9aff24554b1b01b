import Foundation
import Imaging
import Tensors

/// What the masked region starts from, as AUTOMATIC1111's "Masked content"
/// (`inpainting_fill`): `original` keeps diffusers' StableDiffusionInpaintPipeline exactly;
/// the others follow A1111.
///
/// - `fill`: the image is pre-filled with the colours around the mask (`prefilled`) before
///   it is encoded.
/// - `latentNoise`: pre-filled as `fill`, then the masked latents of the encoded image are
///   replaced by unit Gaussian noise.
/// - `latentNothing`: pre-filled as `fill`, then the masked latents are set to zero.
///
/// Except for `original`, the start latents are always the (modified) image latents noised
/// to the first timestep, even at strength 1, as A1111 does (diffusers starts from pure noise
/// there, which would make these modes no-ops).
///
/// Generator order (the seed's draws, one after another): the posterior sample of the
/// (pre-filled) image; the start noise; for `latentNoise` the noise for the masked latents
/// (one more `randn` of the latent shape); then what `original` draws after the start noise
/// (the masked-image posterior for a 9-channel UNet, its unused draw for a 4-channel one) and
/// the scheduler's own draws. A1111 instead reuses the seed's first noise for latent noise.
public enum InpaintFill: String, Sendable, CaseIterable {
    case original
    case fill
    case latentNoise = "latent_noise"
    case latentNothing = "latent_nothing"

    /// Whether the image is pre-filled before encoding (every mode but `original`, as A1111).
    var prefillsImage: Bool { self != .original }

    /// A1111's `masking.fill`: the unmasked pixels, premultiplied by `1 - mask`, blurred with
    /// Gaussian radii 256, 64, 16 (twice), 4 (four times), 2 (twice) and alpha-composited one
    /// over the other, the sharp image last; where the mask is 0 the result is the input exactly, where it is
    /// 1 it holds the surrounding colours. RGB out (alpha dropped, gray expanded).
    /// Each blur rounds to 8 bits as Pillow's does; the premultiply and composite run in float.
    public static func prefilled(_ image: Imaging.Image, mask: Mask) -> Imaging.Image {
        let pixels = image.pixelCount
        let alpha = mask.values.map { 1 - min(max($0, 0), 1) }
        let premultiplied = (0..<3).map { channel in
            (0..<pixels).map { pixel in colorSample(image, pixel: pixel, channel: channel) * alpha[pixel] }
        }
        var color = [[Float]](repeating: [Float](repeating: 0, count: pixels), count: 3)
        var coverage = [Float](repeating: 0, count: pixels)
        for (radius, repeats) in [(256.0, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)] {
            let blurredAlpha = blurred(alpha, like: mask, radius: radius)
            let blurredColor = premultiplied.map { blurred($0, like: mask, radius: radius) }
            for _ in 0..<repeats {
                composite(over: &color, coverage: &coverage, color: blurredColor, alpha: blurredAlpha)
            }
        }
        var result = Imaging.Image(width: image.width, height: image.height, channels: 3, bitDepth: image.bitDepth)
        for pixel in 0..<pixels {
            for channel in 0..<3 { result.samples[pixel * 3 + channel] = color[channel][pixel] }
        }
        return result
    }

    private static func colorSample(_ image: Imaging.Image, pixel: Int, channel: Int) -> Float {
        image.samples[pixel * image.channels + (image.colorChannels == 1 ? 0 : channel)]
    }

    /// One band blurred as Pillow's GaussianBlur on 8 bits; radius 0 is the band itself.
    private static func blurred(_ band: [Float], like mask: Mask, radius: Double) -> [Float] {
        guard radius > 0 else { return band }
        return Mask(width: mask.width, height: mask.height, values: band).blurred(radius: radius).values
    }

    /// Pillow's `alpha_composite` of a premultiplied layer (unpremultiplied as `convert("RGBA")`)
    /// over straight colour with coverage.
    private static func composite(over color: inout [[Float]], coverage: inout [Float], color layer: [[Float]],
                                  alpha layerAlpha: [Float]) {
        for pixel in coverage.indices {
            let source = layerAlpha[pixel]
            guard source > 0 else { continue }
            let destination = coverage[pixel] * (1 - source)
            let total = source + destination
            for channel in 0..<3 {
                let straight = min(layer[channel][pixel] / source, 1)
                color[channel][pixel] = (straight * source + color[channel][pixel] * destination) / total
            }
            coverage[pixel] = total
        }
    }

    /// The encoded image's latents with the masked region replaced as the mode asks
    /// (`latentNoise` draws its noise here); other modes return them unchanged.
    // imageLatents: [1, c, h, w], latentMask: [1, 1, h, w] (1 = repaint)
    func replacingMasked(_ imageLatents: Tensor, latentMask: Tensor, generator: inout TorchGenerator) -> Tensor {
        switch self {
        case .original, .fill: return imageLatents
        case .latentNothing: return (1 - latentMask) * imageLatents
        case .latentNoise: return (1 - latentMask) * imageLatents + latentMask * generator.randn(imageLatents.shape)
        }
    }
}
