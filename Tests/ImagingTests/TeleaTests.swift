import OverpaintTestSupport
import Testing
@testable import Imaging

/// Parity with OpenCV 5.0: `cv2.inpaint(img, mask, radius, cv2.INPAINT_TELEA)` on 8-bit photos.
@Suite struct TeleaTests {
    // (photo, mask kind, radius) as in tools/reference/vision_fixtures.py telea_fixtures.
    static let cases: [(String, String, Int)] = [
        ("chelsea", "blobs", 3), ("astronaut", "blobs", 5), ("coffee", "border", 3), ("rocket", "nearlyall", 3),
    ]

    struct Comparison {
        var masked = 0
        var exact = 0
        var withinOne = 0
        var maxDiff = 0
        var unmaskedChanged = 0
    }

    static func compare(photo: String, kind: String, radius: Int, channels: String) throws -> Comparison {
        let image = try VisionFixture.image("\(photo)_\(channels)")
        let marks = try VisionFixture.bits("telea_\(photo)_\(kind)_mask", count: image.pixelCount)
        let expected = try VisionFixture.load("telea_\(photo)_\(kind)_r\(radius)_\(channels)").uint8()
        let plane = Plane.bytes(of: image, channels: 0..<image.channels)
        let filled = try TeleaInpaint.inpaint(plane: plane, width: image.width, height: image.height,
                                              channels: image.channels, mask: marks, radius: Double(radius))
        var result = Comparison()
        for i in 0..<filled.count {
            let diff = abs(Int(filled[i]) - Int(expected[i]))
            if marks[i / image.channels] == 0 {
                if filled[i] != plane[i] { result.unmaskedChanged += 1 }
                continue
            }
            result.masked += 1
            if diff == 0 { result.exact += 1 }
            if diff <= 1 { result.withinOne += 1 }
            result.maxDiff = max(result.maxDiff, diff)
        }
        return result
    }

    @Test(arguments: cases.indices, ["rgb", "gray"])
    func matchesOpenCV(caseIndex: Int, channels: String) throws {
        let (photo, kind, radius) = Self.cases[caseIndex]
        let r = try Self.compare(photo: photo, kind: kind, radius: radius, channels: channels)
        #expect(r.masked > 0)
        #expect(r.unmaskedChanged == 0)
        #expect(r.exact == r.masked, "\(photo) \(kind) \(channels): \(r.exact)/\(r.masked) exact, max diff \(r.maxDiff)")
    }

    @Test func imageAPIKeepsUnmaskedSamplesAndFillsAlpha() throws {
        let rgb = try VisionFixture.image("chelsea_rgb")
        let marks = try VisionFixture.bits("telea_chelsea_blobs_mask", count: rgb.pixelCount)
        let expected = try VisionFixture.load("telea_chelsea_blobs_r3_rgb").uint8()
        let gray = try VisionFixture.image("chelsea_gray")
        let expectedAlpha = try VisionFixture.load("telea_chelsea_blobs_r3_gray").uint8()
        var rgba = Image(width: rgb.width, height: rgb.height, channels: 4, bitDepth: 16, fill: 0)
        for p in 0..<rgb.pixelCount {
            for c in 0..<3 { rgba.samples[p * 4 + c] = rgb.samples[p * 3 + c] }
            // Alpha off the 1/255 grid outside the mask must survive untouched; inside the
            // mask alpha is the gray photo, filled by the one-channel path.
            rgba.samples[p * 4 + 3] = marks[p] == 0 ? gray.samples[p] + 1e-4 : gray.samples[p]
        }
        let mask = Mask(width: rgb.width, height: rgb.height, values: marks.map { Float($0) / 255 })
        let result = try TeleaInpaint.inpaint(rgba, mask: mask, radius: 3)
        for p in 0..<rgb.pixelCount {
            if marks[p] == 0 {
                #expect(result.samples[(p * 4)..<(p * 4 + 4)] == rgba.samples[(p * 4)..<(p * 4 + 4)])
            } else {
                for c in 0..<3 { #expect(result.samples[p * 4 + c] == Float(expected[p * 3 + c]) / 255) }
                #expect(result.samples[p * 4 + 3] == Float(expectedAlpha[p]) / 255)
            }
        }
    }

    @Test func emptyAndFullMasksReturnTheInput() throws {
        let image = try VisionFixture.image("rocket_rgb")
        let empty = Mask(width: image.width, height: image.height)
        #expect(try TeleaInpaint.inpaint(image, mask: empty) == image)
        // cv2.inpaint with an all-255 mask returns the input: no known pixel borders the mask.
        let full = Mask(width: image.width, height: image.height, fill: 1)
        #expect(try TeleaInpaint.inpaint(image, mask: full) == image)
    }

    @Test func rejectsMaskOfAnotherSize() throws {
        let image = Image(width: 4, height: 3, channels: 3)
        #expect(throws: ImageOpsError.maskSizeMismatch(imageWidth: 4, imageHeight: 3, maskWidth: 3, maskHeight: 4)) {
            try TeleaInpaint.inpaint(image, mask: Mask(width: 3, height: 4, fill: 1))
        }
    }
}
