import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch

/// `edit` with `control` through `overpaint run` (ControlledEditTests has the parity): the
/// Canny ControlNet changes the edit, and the output keeps the input's size.
@Test func controlledEditRecipeRuns() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let (input, _) = try InpaintRecipeTests.input(in: folder, xs: 0...0, ys: 0...0)
    let controlNet = Fixtures.root.appendingPathComponent("pipelines/controlnet_tiny").path
    var results: [Image] = []
    for (index, control) in ["", ", control: [{type: canny, model: \"\(controlNet)\", scale: 0.8}]"].enumerated() {
        let recipe = folder.appendingPathComponent("edit\(index).yaml")
        try """
        seed: 42
        match: {images: ["*.png"]}
        edits:
          - edit: {source_prompt: "an astronaut", prompt: "an astronaut in a garden, oil painting", steps: 4\(control)}
        """.write(to: recipe, atomically: true, encoding: .utf8)
        let run = folder.appendingPathComponent("run\(index)")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let (before, after) = try InpaintRecipeTests.run(recipe, model: model, input: input, folder: run)
        #expect(after.width == before.width && after.height == before.height)
        #expect(!after.samples.contains { $0.isNaN })
        results.append(after)
    }
    #expect(results[0] != results[1])
}
