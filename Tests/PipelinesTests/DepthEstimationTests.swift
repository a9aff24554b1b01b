import Foundation
import Imaging
import OverpaintTestSupport
import Testing
import Tensors
import Weights
@testable import Models
@testable import Pipelines

// Fixtures: tools/reference/depth_fixtures.py (a tiny random transformers
// DepthAnythingForDepthEstimation, its image processor and depth-estimation pipeline).
private enum DepthFixtures {
    static let folder = Fixtures.root.appendingPathComponent("depth")

    static func tensors(_ name: String) throws -> [String: Tensor] {
        let store = try WeightStore(url: folder.appendingPathComponent(name))
        var tensors: [String: Tensor] = [:]
        for key in store.keys { tensors[key] = try store.tensor(named: key) }
        return tensors
    }

    static func tensor(_ name: String, in tensors: [String: Tensor]) throws -> Tensor {
        try #require(tensors[name], "fixture tensor \(name)")
    }
}

@Suite struct DepthEstimationTests {
    let estimation: DepthEstimation
    let cases: [String: Tensor]
    let image: Imaging.Image

    init() throws {
        estimation = try DepthEstimation(folder: DepthFixtures.folder.appendingPathComponent("model"))
        cases = try DepthFixtures.tensors("cases.safetensors")
        image = try ImageFile.read(DepthFixtures.folder.appendingPathComponent("image.png"))
    }

    // np.asarray(pipeline("depth-estimation", model, processor)(image)["depth"]), from the
    // reference depth: every level equal but for truncation at a level boundary.
    @Test func controlImageFollowsTheDepthEstimationPipeline() throws {
        let control = DepthEstimation.controlImage(
            depth: try DepthFixtures.tensor("predicted_depth", in: cases), width: 60, height: 45)
        let expected = try DepthFixtures.tensor("control", in: cases)
        let levels = (0..<control.pixelCount).map { control.samples[$0 * 3] * 255 }
        let differences = zip(levels, expected.scalars).map { abs($0 - $1) }
        #expect(differences.allSatisfy { $0 <= 1 })
        #expect(differences.filter { $0 > 0 }.count <= 2)
        #expect(control.width == 60 && control.height == 45 && control.channels == 3)
        let green = (0..<control.pixelCount).map { control.samples[$0 * 3 + 1] * 255 }
        let blue = (0..<control.pixelCount).map { control.samples[$0 * 3 + 2] * 255 }
        #expect(green == levels && blue == levels)
    }

    // processor(images=image, return_tensors="pt")["pixel_values"]: the same 8-bit samples,
    // normalised in double precision and stored as f32.
    @Test func pixelValuesMatchTheProcessor() throws {
        let pixels = estimation.pixelValues(image)
        let expected = try DepthFixtures.tensor("pixel_values", in: cases)
        #expect(pixels.shape == expected.shape)
        #expect(zip(pixels.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    // np.asarray(image.resize((w, h), filter)): Pillow's 8-bit resize, exactly.
    @Test(arguments: [("bicubic", 37, 29), ("bicubic", 97, 71), ("bilinear", 20, 50), ("lanczos", 80, 60)])
    func pillowResizeIsExact(filter: String, width: Int, height: Int) throws {
        let ops = try DepthFixtures.tensors("ops.safetensors")
        let expected = try DepthFixtures.tensor("pil_\(filter)_\(width)x\(height)", in: ops)
        let kernels: [String: PillowResize8.Filter] = ["bicubic": .bicubic, "bilinear": .bilinear, "lanczos": .lanczos]
        let resized = PillowResize8.resize(DepthEstimation.rgb8(image), width: image.width, height: image.height,
                                           channels: 3, outWidth: width, outHeight: height,
                                           filter: try #require(kernels[filter]))
        #expect(expected.shape == [height, width, 3])
        let different = zip(resized, expected.scalars).filter { Float($0) != $1 }.count
        #expect(resized.count == expected.count && different == 0, "\(different) samples differ")
    }

    // The whole estimate, image file to control map, against the pipeline's.
    @Test func estimatedControlMatchesThePipeline() throws {
        let control = estimation.controlImage(for: image)
        let expected = try DepthFixtures.tensor("control", in: cases)
        let levels = (0..<control.pixelCount).map { control.samples[$0 * 3] * 255 }
        let differences = zip(levels, expected.scalars).map { abs($0 - $1) }
        #expect(differences.allSatisfy { $0 <= 1 })
        #expect(differences.filter { $0 > 0 }.count <= 2)
    }

    /// The map estimated for the pipelines' input.png is the depth-estimation pipeline's
    /// (`astronaut_control`), up to a level where truncation falls the other way.
    @Test func estimatedDepthMapMatchesTheTransformersPipeline() throws {
        let image = try ImageFile.read(PipelineFixtures.folder.appendingPathComponent("input.png"))
        let control = estimation.controlImage(for: image)
        let expected = try DepthFixtures.tensor("astronaut_control", in: cases)
        #expect(control.width == 64 && control.height == 64 && control.channels == 3)
        let levels = (0..<control.pixelCount).map { control.samples[$0 * 3] * 255 }
        let worst = zip(levels, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1, "largest level difference \(worst)")
    }
}
