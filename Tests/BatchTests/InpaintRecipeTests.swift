import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// Inpainting options through `overpaint run` on the tiny diffusers pipeline of
/// Tests/Fixtures/pipelines: the refine recipe, `area: masked` and the fill modes.
@Suite struct InpaintRecipeTests {
    /// input.png as `astronaut.png` with a mask of the inclusive rectangle `xs` x `ys`.
    static func input(in folder: URL, xs: ClosedRange<Int>, ys: ClosedRange<Int>) throws -> (URL, Mask) {
        let input = folder.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input.appendingPathComponent("masks"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("pipelines/input.png"),
                                         to: input.appendingPathComponent("astronaut.png"))
        var mask = Mask(width: 64, height: 64)
        for y in ys { for x in xs { mask.values[y * 64 + x] = 1 } }
        try ImageFile.write(mask.image, to: input.appendingPathComponent("masks/astronaut.png"), format: .png)
        return (input, mask)
    }

    /// Runs `recipe` on the one image and returns (input, output).
    static func run(_ recipe: URL, model: URL, input: URL, folder: URL) throws -> (Image, Image) {
        let output = folder.appendingPathComponent("out")
        #expect(try runOverpaint(["validate", recipe.path, "--model", model.path]).status == 0)
        let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path,
                                       "--model", model.path])
        #expect(result.status == 0, "\(result.stderr)")
        let produced = try FileManager.default.contentsOfDirectory(atPath: output.path).filter { $0.hasSuffix(".png") }
        try #require(produced.count == 1)
        return (try ImageFile.read(input.appendingPathComponent("astronaut.png")),
                try ImageFile.read(output.appendingPathComponent(produced[0])))
    }

    /// Pixels farther than `reach` (Chebyshev) from every marked pixel of `mask` that changed.
    static func changedFarFrom(_ mask: Mask, reach: Int, _ before: Image, _ after: Image) -> Int {
        var changed = 0
        for y in 0..<before.height {
            for x in 0..<before.width {
                let near = (max(0, y - reach)...min(before.height - 1, y + reach)).contains { my in
                    (max(0, x - reach)...min(before.width - 1, x + reach)).contains { mx in mask.values[my * 64 + mx] > 0 } }
                if !near && (0..<3).contains(where: { before[x, y, $0] != after[x, y, $0] }) { changed += 1 }
            }
        }
        return changed
    }

    /// recipes/remove-objects-refine.yaml: Telea fill, then a strength-0.35 inpaint.
    @Test func removeObjectsRefineRecipeRuns() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try tinyPipelineFolder(in: folder)
        let (input, mask) = try Self.input(in: folder, xs: 20...35, ys: 24...39)
        let recipe = Fixtures.packageRoot.appendingPathComponent("recipes/remove-objects-refine.yaml")
        let (before, after) = try Self.run(recipe, model: model, input: input, folder: folder)
        #expect(after.width == before.width && after.height == before.height)
        #expect(!after.samples.contains { $0.isNaN })
        // the centre of the object is gone (filled, then refined)
        #expect((0..<3).contains { after[28, 32, $0] != before[28, 32, $0] })
        // inpaint's mask_grow 3 plus mask_blur 4 (Pillow's box blur reaches 3 * 4); fill's reach is 3
        #expect(Self.changedFarFrom(mask, reach: 3 + 12, before, after) == 0)
    }

    /// `area: masked` with every fill mode: outside the blurred mask nothing changes.
    @Test(arguments: ["original", "fill", "noise", "latent_nothing"])
    func maskedAreaInpaintKeepsTheRest(_ fill: String) throws {
        let folder = try makeScratchFolder("maskedArea-\(fill)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try tinyPipelineFolder(in: folder)
        let (input, mask) = try Self.input(in: folder, xs: 40...51, ys: 8...17)
        let recipe = folder.appendingPathComponent("masked.yaml")
        try """
        seed: 3
        match: {images: ["*.png"], mask: "masks/{stem}.png"}
        edits:
          - inpaint: {prompt: "a red flower", steps: 4, mask_blur: 2, area: masked, padding: 4, fill: \(fill), width: 32, height: 32}
        """.write(to: recipe, atomically: true, encoding: .utf8)
        let (before, after) = try Self.run(recipe, model: model, input: input, folder: folder)
        #expect(after.width == before.width && after.height == before.height)
        #expect(!after.samples.contains { $0.isNaN })
        #expect(Self.changedFarFrom(mask, reach: 6, before, after) == 0)
        #expect((0..<3).contains { after[45, 12, $0] != before[45, 12, $0] })
    }

    /// `control` on inpaint (StableDiffusionControlNetInpaintPipeline; ControlNetInpaintParityTests
    /// has the parity), over the whole image and over the masked area: runs, keeps the rest, and
    /// the control changes the result.
    @Test(arguments: ["whole", "masked"])
    func controlledInpaintRuns(_ area: String) throws {
        let folder = try makeScratchFolder("controlledInpaint-\(area)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try tinyPipelineFolder(in: folder)
        let (input, mask) = try Self.input(in: folder, xs: 16...40, ys: 20...44)
        let controlNet = Fixtures.root.appendingPathComponent("pipelines/controlnet_tiny").path
        var results: [Image] = []
        for (index, control) in ["", ", control: [{type: canny, model: \"\(controlNet)\", scale: 1.0}]"].enumerated() {
            let recipe = folder.appendingPathComponent("controlled\(index).yaml")
            try """
            seed: 3
            match: {images: ["*.png"], mask: "masks/{stem}.png"}
            edits:
              - inpaint: {prompt: "a red flower", steps: 4, mask_blur: 0, area: \(area), padding: 4, width: 48, height: 48\(control)}
            """.write(to: recipe, atomically: true, encoding: .utf8)
            let run = folder.appendingPathComponent("run\(index)")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let (before, after) = try Self.run(recipe, model: model, input: input, folder: run)
            #expect(!after.samples.contains { $0.isNaN })
            #expect(Self.changedFarFrom(mask, reach: 0, before, after) == 0)
            results.append(after)
        }
        #expect(results[0] != results[1])
    }
}
