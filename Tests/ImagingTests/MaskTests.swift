import OverpaintTestSupport
import Testing
@testable import Imaging

@Suite struct MaskTests {
    static func fixtureMask(_ name: String) throws -> Mask {
        let image = try VisionFixture.image(name)
        return Mask(width: image.width, height: image.height, values: image.samples)
    }

    static func bytes(_ mask: Mask) -> [Int] { mask.values.map { Int(Plane.byte($0)) } }

    // Image.fromarray(mask, "L").filter(ImageFilter.GaussianBlur(radius)) with Pillow 13.0.
    @Test(arguments: [1, 4, 11])
    func blurMatchesPillow(radius: Int) throws {
        let mask = try Self.fixtureMask("blur_mask")
        let expected = try VisionFixture.load("blur_mask_r\(radius)").uint8().map(Int.init)
        let blurred = Self.bytes(mask.blurred(radius: Double(radius)))
        let maxDiff = zip(blurred, expected).map { abs($0 - $1) }.max() ?? 0
        let differing = zip(blurred, expected).filter { $0 != $1 }.count
        #expect(differing == 0, "radius \(radius): \(differing) differ, max \(maxDiff)")
        #expect(blurred != Self.bytes(mask), "the blur changed something")
    }

    @Test func blurOfZeroRadiusIsIdentity() throws {
        let mask = try Self.fixtureMask("blur_mask")
        #expect(mask.blurred(radius: 0) == mask)
    }

    // cv2.dilate / cv2.erode with the disc {dx² + dy² <= r²}.
    @Test func growAndShrinkMatchOpenCVDiscMorphology() throws {
        let mask = try Self.fixtureMask("blur_mask")
        let count = mask.width * mask.height
        let grown = Self.bytes(mask.grown(by: 7))
        #expect(grown == (try VisionFixture.bits("grow_binary_r7", count: count)).map(Int.init))
        let shrunk = Self.bytes(mask.grown(by: -3))
        #expect(shrunk == (try VisionFixture.bits("shrink_binary_r3", count: count)).map(Int.init))
        let soft = try Self.fixtureMask("blur_mask_r4")
        let grownSoft = Self.bytes(soft.grown(by: 5))
        #expect(grownSoft == (try VisionFixture.load("grow_soft_r5").uint8()).map(Int.init))
    }

    @Test func fullMaskStaysFullWhenShrunk() {
        let full = Mask(width: 9, height: 5, fill: 1)
        #expect(full.grown(by: -2) == full)
        #expect(full.grown(by: 0) == full)
    }

    @Test func thresholdKeepsValuesAtOrAboveIt() {
        let mask = Mask(width: 4, height: 1, values: [0.2, 0.5, 0.49, 1])
        #expect(mask.thresholded().values == [0, 1, 0, 1])
        #expect(mask.thresholded(0.1).values == [1, 1, 1, 1])
    }

    @Test func boundingBoxCoversMarkedPixelsPaddedAndClamped() {
        var mask = Mask(width: 20, height: 10)
        mask.values[2 * 20 + 3] = 1
        mask.values[5 * 20 + 7] = 0.5
        mask.values[9 * 20 + 19] = 0.001  // rounds to byte 0: not marked
        #expect(mask.boundingBox() == Mask.Box(x: 3, y: 2, width: 5, height: 4))
        #expect(mask.boundingBox(padding: 4) == Mask.Box(x: 0, y: 0, width: 12, height: 10))
        #expect(!mask.isEmpty)
        mask.values[2 * 20 + 3] = 0
        mask.values[5 * 20 + 7] = 0
        #expect(mask.isEmpty)
        #expect(mask.boundingBox(padding: 3) == nil)
    }

    @Test func maskFromImageTakesBrightestChannelTimesAlpha() {
        let rgba = Image(width: 2, height: 1, channels: 4, samples: [0.2, 0.9, 0.1, 0.5, 1, 1, 1, 0])
        #expect(Mask(rgba).values == [0.45, 0])
        let gray = Image(width: 2, height: 1, channels: 1, samples: [0.25, 1])
        #expect(Mask(gray).values == [0.25, 1])
        let rgb = Image(width: 1, height: 1, channels: 3, samples: [0.1, 0.3, 0.2])
        #expect(Mask(rgb).values == [0.3])
    }
}
