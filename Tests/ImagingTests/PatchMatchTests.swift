import Testing
@testable import Imaging

@Suite struct PatchMatchTests {
    /// Diagonal RGB stripes of period 8: the truth under any hole is known exactly.
    static func stripes(width: Int, height: Int) -> Image {
        var image = Image(width: width, height: height, channels: 3)
        for y in 0..<height {
            for x in 0..<width {
                let phase = (x + 2 * y) % 8
                let value: [Float] = phase < 3 ? [0.9, 0.2, 0.1] : (phase < 5 ? [0.1, 0.6, 0.9] : [0.3, 0.3, 0.3])
                for c in 0..<3 { image[x, y, c] = value[c] }
            }
        }
        return image
    }

    static func squareHole(width: Int, height: Int, x: Int, y: Int, size: Int) -> Mask {
        var mask = Mask(width: width, height: height)
        for yy in y..<(y + size) { for xx in x..<(x + size) { mask.values[yy * width + xx] = 1 } }
        return mask
    }

    static func holeRMSE(_ a: Image, _ truth: Image, mask: Mask) -> Float {
        var sum: Float = 0, count: Float = 0
        for p in 0..<truth.pixelCount where mask.values[p] > 0 {
            for c in 0..<truth.channels {
                let d = a.samples[p * truth.channels + c] - truth.samples[p * truth.channels + c]
                sum += d * d
                count += 1
            }
        }
        return (sum / count).squareRoot()
    }

    @Test func fillsStripesFarBetterThanAFlatFill() throws {
        let truth = Self.stripes(width: 64, height: 64)
        let mask = Self.squareHole(width: 64, height: 64, x: 22, y: 20, size: 16)
        let filled = try PatchMatchFill.fill(truth, mask: mask, options: .init(seed: 7))
        // A flat fill with the mean colour of the known pixels.
        var flat = truth
        var mean = [Float](repeating: 0, count: 3)
        let known = (0..<truth.pixelCount).filter { mask.values[$0] == 0 }
        for p in known { for c in 0..<3 { mean[c] += truth.samples[p * 3 + c] / Float(known.count) } }
        for p in 0..<truth.pixelCount where mask.values[p] > 0 { for c in 0..<3 { flat.samples[p * 3 + c] = mean[c] } }
        let patchError = Self.holeRMSE(filled, truth, mask: mask)
        let flatError = Self.holeRMSE(flat, truth, mask: mask)
        #expect(!patchError.isNaN)
        #expect(patchError < 0.1 * flatError, "PatchMatch RMSE \(patchError) vs flat \(flatError)")
    }

    @Test func isDeterministicAndKeepsUnmaskedPixels() throws {
        var image = Self.stripes(width: 48, height: 40)
        // Off-grid samples outside the hole must come back bit-identical.
        for i in stride(from: 0, to: image.samples.count, by: 7) { image.samples[i] += 0.0001 }
        let mask = Self.squareHole(width: 48, height: 40, x: 30, y: 5, size: 12)
        let a = try PatchMatchFill.fill(image, mask: mask, options: .init(seed: 3))
        let b = try PatchMatchFill.fill(image, mask: mask, options: .init(seed: 3))
        #expect(a == b)
        for p in 0..<image.pixelCount where mask.values[p] == 0 {
            #expect(a.samples[(p * 3)..<(p * 3 + 3)] == image.samples[(p * 3)..<(p * 3 + 3)])
        }
        #expect(a.samples.allSatisfy { !$0.isNaN && $0 >= 0 && $0 <= 1 })
        #expect(a != image, "the hole was filled")
    }

    @Test func holeTouchingTheBorderAndTinyImages() throws {
        let image = Self.stripes(width: 40, height: 30)
        let mask = Self.squareHole(width: 40, height: 30, x: 0, y: 0, size: 9)
        let filled = try PatchMatchFill.fill(image, mask: mask)
        #expect(Self.holeRMSE(filled, image, mask: mask) < 0.1)
        // Too small for any 7x7 source: the onion-peel fill, still finite and in range.
        let tiny = Self.stripes(width: 6, height: 5)
        let tinyMask = Self.squareHole(width: 6, height: 5, x: 2, y: 1, size: 2)
        let tinyFilled = try PatchMatchFill.fill(tiny, mask: tinyMask)
        #expect(tinyFilled.samples.allSatisfy { !$0.isNaN && $0 >= 0 && $0 <= 1 })
        #expect(try PatchMatchFill.fill(tiny, mask: Mask(width: 6, height: 5)) == tiny)
    }

    @Test func rejectsMaskOfAnotherSize() {
        #expect(throws: ImageOpsError.self) {
            try PatchMatchFill.fill(Image(width: 4, height: 4, channels: 3), mask: Mask(width: 5, height: 4))
        }
    }

    @Test func splitMix64MatchesItsReferenceSequence() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}
