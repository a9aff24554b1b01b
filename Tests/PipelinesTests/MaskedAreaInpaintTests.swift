import Foundation
import Imaging
import Testing
@testable import Pipelines

/// A1111's "Only masked" inpainting: the crop region, and the crop inpainted and pasted back.
@Suite struct MaskedAreaInpaintTests {
    static let tiny = Result { try PipelineFixtures.pipeline(inpainting: false) }

    static func options() -> GenerationOptions {
        GenerationOptions(prompt: PipelineFixtures.prompt, steps: 4, guidanceScale: 7.5, strength: 1, seed: 7)
    }

    /// A `width` x `height` mask marking the inclusive rectangle `xs` x `ys`.
    static func rectangle(_ width: Int, _ height: Int, xs: ClosedRange<Int>, ys: ClosedRange<Int>) -> Mask {
        var mask = Mask(width: width, height: height)
        for y in ys { for x in xs { mask.values[y * width + x] = 1 } }
        return mask
    }

    struct CropCase: Sendable, CustomStringConvertible {
        var image: (Int, Int), xs: ClosedRange<Int>, ys: ClosedRange<Int>, padding: Int, working: (Int, Int)
        /// x, y, width, height
        var expected: [Int]
        var description: String { "\(image) \(xs) \(ys) pad \(padding) -> \(expected)" }
    }

    // Hand-computed, and checked against A1111's modules/masking.py:
    //   r = expand_crop_region(get_crop_region(m, pad), pw, ph, W, H); (r[0], r[1], r[2] - r[0], r[3] - r[1])
    static let cropCases: [CropCase] = [
        // 26x11 box made square about its centre: 15 rows more, 7 above, 8 below
        CropCase(image: (100, 60), xs: 10...29, ys: 20...24, padding: 3, working: (64, 64), expected: [7, 10, 26, 26]),
        // grows past the bottom edge and is shifted up
        CropCase(image: (100, 60), xs: 10...49, ys: 50...57, padding: 0, working: (64, 64), expected: [10, 20, 40, 40]),
        // taller than the image: clamped to it, off the aspect ratio
        CropCase(image: (100, 20), xs: 10...89, ys: 5...9, padding: 0, working: (64, 64), expected: [10, 0, 80, 20]),
        // widened to 2:1 past the right edge and shifted left
        CropCase(image: (50, 50), xs: 40...49, ys: 0...9, padding: 0, working: (64, 32), expected: [30, 0, 20, 10]),
        CropCase(image: (200, 100), xs: 60...69, ys: 40...69, padding: 5, working: (96, 64), expected: [35, 35, 60, 40]),
        CropCase(image: (64, 64), xs: 20...27, ys: 20...27, padding: 12, working: (32, 32), expected: [8, 8, 32, 32]),
    ]

    @Test(arguments: cropCases) func cropRegionAsA1111(_ crop: CropCase) throws {
        let mask = Self.rectangle(crop.image.0, crop.image.1, xs: crop.xs, ys: crop.ys)
        let box = try #require(MaskedAreaCrop.region(of: mask, padding: crop.padding,
                                                     width: crop.working.0, height: crop.working.1))
        #expect([box.x, box.y, box.width, box.height] == crop.expected)
    }

    @Test func emptyMaskHasNoRegionAndChangesNothing() throws {
        let image = try PipelineFixtures.image("input.png")
        let empty = Mask(width: image.width, height: image.height)
        #expect(MaskedAreaCrop.region(of: empty, padding: 32, width: 64, height: 64) == nil)
        let output = try Self.tiny.get().inpaintMaskedArea(image, mask: empty, seam: empty, padding: 8,
                                                           options: Self.options())
        #expect(output == image)
    }

    @Test func everyPixelOutsideTheBlurredMaskIsKept() throws {
        let image = try PipelineFixtures.image("input.png")
        let mask = Self.rectangle(64, 64, xs: 36...49, ys: 10...21)
        let seam = mask.blurred(radius: 2)
        let output = try Self.tiny.get().inpaintMaskedArea(image, mask: mask, seam: seam, padding: 4, width: 32,
                                                           height: 32, options: Self.options())
        #expect(output.width == 64 && output.height == 64 && output.channels == image.channels)
        var kept = 0, changed = 0
        for pixel in 0..<image.pixelCount {
            let samples = pixel * image.channels..<(pixel + 1) * image.channels
            if seam.values[pixel] == 0 {
                kept += 1
                #expect(Array(output.samples[samples]) == Array(image.samples[samples]), "pixel \(pixel)")
            } else if Array(output.samples[samples]) != Array(image.samples[samples]) {
                changed += 1
            }
        }
        #expect(kept > 64 * 64 / 2 && changed > 100)
    }

    /// With a crop region of exactly the working size nothing is resized: inside the mask the
    /// result is the whole-image inpaint of the crop, outside it the input.
    @Test func maskedAreaIsTheWholeImageInpaintOfTheCrop() throws {
        let image = try PipelineFixtures.image("input.png")
        let mask = Self.rectangle(64, 64, xs: 20...27, ys: 20...27)
        let pipeline = try Self.tiny.get()
        let output = try pipeline.inpaintMaskedArea(image, mask: mask, seam: mask, padding: 12, width: 32, height: 32,
                                                    options: Self.options())
        // the region is x, y in 8..<40 (cropRegionAsA1111's last case)
        var crop = Image(width: 32, height: 32, channels: image.channels)
        var cropMask = Mask(width: 32, height: 32)
        for y in 0..<32 {
            for x in 0..<32 {
                let source = (y + 8) * 64 + x + 8
                cropMask.values[y * 32 + x] = mask.values[source]
                for c in 0..<image.channels {
                    crop.samples[(y * 32 + x) * image.channels + c] = image.samples[source * image.channels + c]
                }
            }
        }
        let whole = try pipeline.inpaint(crop, mask: cropMask, options: Self.options(), pasteBack: false)
        for y in 0..<64 {
            for x in 0..<64 {
                let pixel = y * 64 + x
                let ours = Array(output.samples[pixel * 3..<pixel * 3 + 3])
                if mask.values[pixel] == 1 {
                    let inside = (y - 8) * 32 + x - 8
                    // Two runs: equal but for the order of threaded sums (OpenBLAS's thread count is
                    // process-wide), which may move a sample by a level.
                    let reference = whole.samples[inside * 3..<inside * 3 + 3]
                    #expect(zip(ours, reference).allSatisfy { abs($0 - $1) <= 1.001 / 255 }, "pixel \(x),\(y)")
                } else {
                    #expect(ours == Array(image.samples[pixel * 3..<pixel * 3 + 3]), "pixel \(x),\(y)")
                }
            }
        }
    }
}
