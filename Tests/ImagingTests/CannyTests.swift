import OverpaintTestSupport
import Testing
@testable import Imaging

/// Parity with OpenCV 5.0: `cv2.Canny(img, low, high)` (aperture 3, L1) on downscaled skimage photos.
@Suite struct CannyTests {
    static let photos = ["astronaut", "chelsea", "coffee", "rocket"]
    // tools/reference/vision_fixtures.py CANNY_THRESHOLDS; (200, 80) is swapped by OpenCV.
    static let thresholds: [(Double, Double)] = [(100, 200), (50, 150), (0, 0), (200, 80), (30, 60)]

    @Test(arguments: photos, ["rgb", "gray"])
    func matchesOpenCVExactly(photo: String, kind: String) throws {
        let image = try VisionFixture.image("\(photo)_\(kind)")
        let plane = Plane.bytes(of: image, channels: 0..<image.channels)
        for (low, high) in Self.thresholds {
            let expected = try VisionFixture.bits("canny_\(photo)_\(kind)_\(Int(low))_\(Int(high))",
                                                  count: image.pixelCount)
            let edges = try Canny.edges(plane: plane, width: image.width, height: image.height,
                                        channels: image.channels, low: low, high: high)
            let differing = zip(edges, expected).filter { $0 != $1 }.count
            #expect(differing == 0, "\(photo) \(kind) \(low)/\(high): \(differing) pixels differ")
            #expect(expected.contains(255), "fixture has edges")
        }
    }

    @Test func imageAPIIgnoresAlphaAndReturnsUnitEdges() throws {
        let rgb = try VisionFixture.image("chelsea_rgb")
        var rgba = Image(width: rgb.width, height: rgb.height, channels: 4, fill: 0.25)
        for p in 0..<rgb.pixelCount {
            for c in 0..<3 { rgba.samples[p * 4 + c] = rgb.samples[p * 3 + c] }
        }
        let edges = try Canny.edges(of: rgba, low: 100, high: 200)
        let expected = try VisionFixture.bits("canny_chelsea_rgb_100_200", count: rgb.pixelCount)
        #expect(edges.channels == 1)
        #expect(edges.samples == expected.map { $0 == 0 ? 0 : 1 })
    }

    @Test func rejectsMismatchedBuffer() {
        #expect(throws: ImageOpsError.sampleCountMismatch(expected: 12, actual: 11)) {
            try Canny.edges(plane: [UInt8](repeating: 0, count: 11), width: 4, height: 3, channels: 1,
                            low: 1, high: 2)
        }
    }

    @Test func flatImageHasNoEdgesAndStepHasOne() throws {
        let flat = try Canny.edges(plane: [UInt8](repeating: 90, count: 64), width: 8, height: 8,
                                   channels: 1, low: 0, high: 0)
        #expect(!flat.contains(255))
        // A vertical step 0 | 255 between columns 3 and 4: |dx| = 1020 on both columns, the NMS
        // `m > left && m >= right` keeps the left one: cv2.Canny(step, 100, 200) marks column 3 only.
        let step = (0..<64).map { UInt8($0 % 8 < 4 ? 0 : 255) }
        let edges = try Canny.edges(plane: step, width: 8, height: 8, channels: 1, low: 100, high: 200)
        #expect((0..<8).allSatisfy { edges[$0 * 8 + 3] == 255 && edges[$0 * 8 + 4] == 0 })
        #expect(edges.filter { $0 == 255 }.count == 8)
    }
}
