import Foundation
import Imaging
import Tensors
import Testing
@testable import Pipelines

/// A1111's "Masked content" modes: what the masked region starts from, and the generator's order.
@Suite struct InpaintFillTests {
    static let tiny = Result { try PipelineFixtures.pipeline(inpainting: false) }

    static func options(strength: Double = 1) -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 4, guidanceScale: 7.5, strength: strength, seed: 11)
    }

    func inputs() throws -> (Image, Mask) {
        (try PipelineFixtures.image("input.png"), Mask(try PipelineFixtures.image("mask.png")).thresholded())
    }

    /// A1111's masking.fill on a uniform surround: the masked square takes the surround's colour,
    /// to 8-bit rounding amplified where little alpha is left (Pillow's own `masking.fill` is
    /// within 3/255 of it on this image; the float composite here within 3.6/255).
    @Test func prefillPaintsTheMaskWithTheSurroundingColour() {
        let surround: [Float] = [0.2, 0.4, 0.8]
        var image = Image(width: 24, height: 24, channels: 3)
        var mask = Mask(width: 24, height: 24)
        for y in 0..<24 {
            for x in 0..<24 {
                let pixel = y * 24 + x
                let inside = (8..<16).contains(x) && (8..<16).contains(y)
                mask.values[pixel] = inside ? 1 : 0
                for c in 0..<3 { image.samples[pixel * 3 + c] = inside ? [1, 0, 0][c] : surround[c] }
            }
        }
        let filled = InpaintFill.prefilled(image, mask: mask)
        for pixel in 0..<image.pixelCount {
            for c in 0..<3 {
                let value = filled.samples[pixel * 3 + c]
                if mask.values[pixel] == 0 {
                    #expect(value == image.samples[pixel * 3 + c])
                } else {
                    #expect(abs(value - surround[c]) <= 4 / 255, "pixel \(pixel) channel \(c): \(value)")
                }
            }
        }
    }

    /// `fill` leaves no masked pixel of the original in the image the VAE encodes, and every
    /// unmasked one as it was.
    @Test func fillLeavesNoMaskedPixelOfTheOriginal() throws {
        let (image, mask) = try inputs()
        let run = try Self.tiny.get().prepareInpaint(image, mask: mask, options: Self.options(), fill: .fill)
        let plane = image.pixelCount
        let encoded = run.initImage.scalars
        var masked = 0
        for pixel in 0..<plane {
            let original = (0..<3).map { 2 * image.samples[pixel * 3 + $0] - 1 }
            let initial = (0..<3).map { encoded[$0 * plane + pixel] }
            if mask.values[pixel] == 1 {
                masked += 1
                #expect(initial != original, "pixel \(pixel)")
            } else {
                #expect(initial == original, "pixel \(pixel)")
            }
        }
        #expect(masked > 0)
    }

    /// `latent_nothing` and `fill` encode the same pre-filled image; their start latents differ
    /// only in the masked latents, which for `latent_nothing` are the noise alone at the first
    /// timestep (zeros noised), even at strength 1.
    @Test func latentNothingZeroesOnlyTheMaskedLatents() throws {
        let (image, mask) = try inputs()
        let pipeline = try Self.tiny.get()
        let filled = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(), fill: .fill)
        let nothing = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(), fill: .latentNothing)
        let zeros = Tensor(shape: nothing.start.noise.shape, scalars: [Float](repeating: 0, count: nothing.start.noise.count))
        let noisedZeros = try nothing.scheduler.addNoise(original: zeros, noise: nothing.start.noise,
                                                         timestep: nothing.timesteps[0])
        let latentMask = nothing.latentMask.scalars
        let plane = latentMask.count
        var maskedLatents = 0
        for index in 0..<nothing.start.latents.count {
            let isMasked = latentMask[index % plane] == 1
            if isMasked {
                maskedLatents += 1
                #expect(nothing.start.latents.scalars[index] == noisedZeros.scalars[index])
                #expect(nothing.start.imageLatents?.scalars[index] == 0)
            } else {
                // the two VAE encodes agree to float rounding only (threaded sums)
                #expect(abs(nothing.start.latents.scalars[index] - filled.start.latents.scalars[index]) <= 1e-5)
            }
        }
        #expect(maskedLatents > 0 && maskedLatents < nothing.start.latents.count)
        #expect(filled.start.latents != nothing.start.latents)
    }

    /// The generator's order: posterior sample, start noise, then `latent_noise`'s own draw.
    @Test func latentNoiseDrawsAfterTheStartNoise() throws {
        let (image, mask) = try inputs()
        let pipeline = try Self.tiny.get()
        let filled = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(strength: 0.5), fill: .fill)
        let noisy = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(strength: 0.5), fill: .latentNoise)
        let shape = noisy.start.noise.shape
        var generator = TorchGenerator(seed: 11)
        _ = generator.randn(shape)
        let startNoise = generator.randn(shape)
        let maskNoise = generator.randn(shape)
        #expect(noisy.start.noise == startNoise)
        let imageLatents = try #require(noisy.start.imageLatents), reference = try #require(filled.start.imageLatents)
        let latentMask = noisy.latentMask.scalars
        for index in 0..<imageLatents.count {
            if latentMask[index % latentMask.count] == 1 {
                #expect(imageLatents.scalars[index] == maskNoise.scalars[index])
            } else {
                #expect(abs(imageLatents.scalars[index] - reference.scalars[index]) <= 1e-5)
            }
        }
    }

    /// `original` keeps diffusers' strength-1 start (pure noise) and draws the same start noise.
    @Test func originalStartsFromPureNoiseAtStrengthOne() throws {
        let (image, mask) = try inputs()
        let pipeline = try Self.tiny.get()
        let original = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(), fill: .original)
        let filled = try pipeline.prepareInpaint(image, mask: mask, options: Self.options(), fill: .fill)
        #expect(original.start.noise == filled.start.noise)
        #expect(original.start.latents == original.start.noise * original.scheduler.initNoiseSigma)
        #expect(filled.start.latents != original.start.latents)
    }

    @Test(arguments: InpaintFill.allCases) func everyModeKeepsTheUnmaskedPixels(_ fill: InpaintFill) throws {
        let (image, mask) = try inputs()
        let output = try Self.tiny.get().inpaint(image, mask: mask, options: Self.options(), fill: fill)
        for pixel in 0..<image.pixelCount where mask.values[pixel] == 0 {
            #expect(Array(output.samples[pixel * 3..<pixel * 3 + 3]) == Array(image.samples[pixel * 3..<pixel * 3 + 3]))
        }
        #expect(output.samples.allSatisfy { !$0.isNaN })
    }
}
