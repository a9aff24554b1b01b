import Foundation
import Imaging
import Testing
@testable import Pipelines

/// Inpainting beyond parity (ParityTests has that): paste-back and input checks.
@Suite struct InpaintTests {
    static let dedicated = Result { try PipelineFixtures.pipeline(inpainting: true) }

    static func options(strength: Double) -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 10, guidanceScale: 7.5, strength: strength, seed: 7)
    }

    func inputs() throws -> (Image, Mask) {
        (try PipelineFixtures.image("input.png"), Mask(try PipelineFixtures.image("mask.png")))
    }

    @Test func pasteBackKeepsEveryUnmaskedPixel() throws {
        let (image, mask) = try inputs()
        let output = try Self.dedicated.get().inpaint(image, mask: mask, options: Self.options(strength: 1))
        #expect(output.width == image.width && output.height == image.height && output.channels == 3)
        var unmasked = 0, changedInside = 0
        for pixel in 0..<image.pixelCount {
            let samples = pixel * 3..<pixel * 3 + 3
            if mask.values[pixel] == 0 {
                unmasked += 1
                #expect(Array(output.samples[samples]) == Array(image.samples[samples]), "pixel \(pixel)")
            } else if Array(output.samples[samples]) != Array(image.samples[samples]) {
                changedInside += 1
            }
        }
        #expect(unmasked > 0 && changedInside > 0)
    }

    @Test func maskOfAnotherSizeIsRejected() throws {
        let (image, _) = try inputs()
        #expect(throws: PipelinesError.maskSizeMismatch(image: [64, 64], mask: [32, 64])) {
            try Self.dedicated.get().inpaint(image, mask: Mask(width: 32, height: 64, fill: 1),
                                             options: Self.options(strength: 1))
        }
    }

    @Test func pasteBackBlendsThroughASoftMask() throws {
        let original = Image(width: 3, height: 1, channels: 4, samples: [0.2, 0.4, 0.6, 1, 0.2, 0.4, 0.6, 1, 0.2, 0.4, 0.6, 0.5])
        let generated = Image(width: 3, height: 1, channels: 3, samples: [1, 1, 1, 1, 1, 1, 0, 0, 0])
        let mask = Mask(width: 3, height: 1, values: [0, 0.5, 1])
        let result = try StableDiffusion.pasteBack(generated, onto: original, mask: mask)
        #expect(result.channels == 4)
        #expect(Array(result.samples[0..<4]) == [0.2, 0.4, 0.6, 1])
        #expect(Array(result.samples[4..<8]) == [0.6, 0.7, 0.8, 1])
        #expect(Array(result.samples[8..<12]) == [0, 0, 0, 0.5])
    }
}
