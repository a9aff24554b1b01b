import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// Inpainting options through `overpaint run` on the tiny diffusers pipeline of
/// Tests/Fixtures/pipelines: the refine recipe, `area: masked` and the fill modes.
@Suite struct InpaintRecipeTests {
    /// The tiny pipeline (`unet`, a UNet fixture of pipelines/, in place of its own) and
    /// input.png as `astronaut.png` with a mask of the inclusive rectangle `xs` x `ys`.
    static func maskedRun(_ test: String = #function, unet: String? = nil,
                          xs: ClosedRange<Int>, ys: ClosedRange<Int>) throws -> (RecipeRun, Mask) {
        var run = try RecipeRun(test)
        run.model = try tinyPipelineFolder(in: run.folder, unet: unet)
        try FileManager.default.createDirectory(at: run.input.appendingPathComponent("masks"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("pipelines", "input.png"),
                                         to: run.input.appendingPathComponent("astronaut.png"))
        var mask = Mask(width: 64, height: 64)
        for y in ys { for x in xs { mask.values[y * 64 + x] = 1 } }
        try ImageFile.write(mask.image, to: run.input.appendingPathComponent("masks/astronaut.png"), format: .png)
        return (run, mask)
    }

    /// Validates `recipe`, runs it on the one image and returns (input, output).
    static func validateAndRun(_ recipe: URL, _ run: RecipeRun) throws -> (Image, Image) {
        try run.validateAndRunSucceeding(recipe)
        let produced = try run.outputPNGs()
        try #require(produced.count == 1)
        return (try ImageFile.read(run.input.appendingPathComponent("astronaut.png")), try run.outputImage(produced[0]))
    }

    /// The two endings of an edit's flow mapping the controlled tests compare: none, and a
    /// Canny `control` with the tiny ControlNet at `scale`.
    static func withoutAndWithCannyControl(scale: String) -> [String] {
        ["", ", control: [{type: canny, model: \"\(Fixtures.url("pipelines", "controlnet_tiny").path)\", scale: \(scale)}]"]
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
        let (run, mask) = try Self.maskedRun(xs: 20...35, ys: 24...39)
        defer { run.remove() }
        let (before, after) = try Self.validateAndRun(Fixtures.recipe("remove-objects-refine"), run)
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
        let (run, mask) = try Self.maskedRun("maskedArea-\(fill)", xs: 40...51, ys: 8...17)
        defer { run.remove() }
        let recipe = try run.oneEditRecipe("""
            inpaint: {prompt: "a red flower", steps: 4, mask_blur: 2, area: masked, padding: 4, fill: \(fill), width: 32, height: 32}
            """, seed: 3, withMasks: true, named: "masked.yaml")
        let (before, after) = try Self.validateAndRun(recipe, run)
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
        let (run, mask) = try Self.maskedRun("controlledInpaint-\(area)", xs: 16...40, ys: 20...44)
        defer { run.remove() }
        var results: [Image] = []
        for (index, control) in Self.withoutAndWithCannyControl(scale: "1.0").enumerated() {
            let recipe = try run.oneEditRecipe("""
                inpaint: {prompt: "a red flower", steps: 4, mask_blur: 0, area: \(area), padding: 4, width: 48, height: 48\(control)}
                """, seed: 3, withMasks: true, named: "controlled\(index).yaml")
            let (before, after) = try Self.validateAndRun(recipe, run.writing(to: "run\(index)/out"))
            #expect(!after.samples.contains { $0.isNaN })
            #expect(Self.changedFarFrom(mask, reach: 0, before, after) == 0)
            results.append(after)
        }
        #expect(results[0] != results[1])
    }
}
