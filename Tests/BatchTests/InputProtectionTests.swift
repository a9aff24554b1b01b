import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch
@testable import Recipes

private func fillRecipe(output: String, mask: String = "masks/{stem}.png", images: String = "*.png") -> String {
    """
    match:
      images: ["\(images)"]
      mask: "\(mask)"
    output:
      path: "\(output)"
    edits:
      - fill: {method: telea, radius: 3}
    """
}

extension RecipeRun {
    /// Why `BatchPlan` refuses `yaml` (written in the scratch folder) over the input with
    /// `output` as --output; nil when it plans it.
    fileprivate func planError(_ yaml: String, output: URL) throws -> BatchError? {
        let recipe = try BatchTests.recipe(yaml, in: folder)
        do {
            _ = try BatchPlan(recipe: recipe, input: input, output: output, seed: 0, shard: nil)
            return nil
        } catch {
            return error
        }
    }
}

/// The same folder as --input and --output, with --overwrite: the photos are refused as
/// outputs before anything runs, and none of them changes (it used to replace them, exit 0).
@Test func inputFolderAsOutputWithOverwriteIsRefusedAndLeavesThePhotos() throws {
    let run = try RecipeRun.maskedPhotos(["a", "b"])
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let before = try Data(contentsOf: input.appendingPathComponent("a.png"))
    let recipeURL = folder.appendingPathComponent("fill.yaml")
    try fillRecipe(output: "{stem}.png").write(to: recipeURL, atomically: true, encoding: .utf8)
    for flags in [["--overwrite"], [], ["--resume"]] {
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", input.path] + flags)
        #expect(result.status == 2, "\(flags): \(result.stderr)")
        #expect(result.stderr.contains("a.png: output a.png would overwrite the input image a.png"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
    #expect(try Data(contentsOf: input.appendingPathComponent("a.png")) == before)
    #expect(!FileManager.default.fileExists(atPath: input.appendingPathComponent("manifest.jsonl").path))
}

/// Outputs written beside the photos under new names are not overwrites, but the next run's
/// `*.png` would edit them again: refused too (without --overwrite it used to write them).
/// A template that puts them where no glob reaches is fine.
@Test func outputsTheNextRunWouldTakeForInputsAreRefused() throws {
    let run = try RecipeRun.maskedPhotos(["a", "b"])
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let error = try run.planError(fillRecipe(output: "{stem}-edited.png"), output: input)
    #expect(error?.errorDescription?.contains("output a-edited.png would be a-edited.png under --input, which match.images '*.png' takes as an input on the next run") == true,
            "\(String(describing: error))")
    #expect(error?.errorDescription?.hasSuffix("(and 1 more outputs like it)") == true)
    // Through a symlink to the input folder, too.
    let link = folder.appendingPathComponent("link-to-in")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: input)
    #expect(try run.planError(fillRecipe(output: "{stem}-edited.png"), output: link) != nil)

    let recipeURL = folder.appendingPathComponent("fill.yaml")
    try fillRecipe(output: "edited/{stem}.png").write(to: recipeURL, atomically: true, encoding: .utf8)
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", input.path])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(FileManager.default.fileExists(atPath: input.appendingPathComponent("edited/a.png").path))
    // An output folder inside the input is skipped by the walk, so its outputs are safe.
    #expect(try run.planError(fillRecipe(output: "{stem}.png", images: "**/*.png"), output: input.appendingPathComponent("out")) == nil)
}

/// Masks and other sidecars are inputs as much as the photos, existing or not.
@Test func outputsOverSidecarsAreRefused() throws {
    let run = try RecipeRun.maskedPhotos(["a", "b"])
    defer { run.remove() }
    let onMask = try run.planError(fillRecipe(output: "masks/{stem}.png"), output: run.input)
    #expect(onMask?.errorDescription?.hasPrefix("a.png: output masks/a.png would overwrite the mask masks/a.png") == true,
            "\(String(describing: onMask))")
    // From a parent folder, reaching into the input through the template.
    let fromParent = try run.planError(fillRecipe(output: "in/masks/{stem}.png"), output: run.folder)
    #expect(fromParent?.errorDescription?.contains("would overwrite the mask masks/a.png") == true)
}

/// An output file that is a symbolic link to an input is refused with --overwrite, although
/// the rename would only replace the link: the rule is about where the path leads.
@Test func anOutputLinkedToAnInputIsRefused() throws {
    let run = try RecipeRun.maskedPhotos(["a", "b"])
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(at: output.appendingPathComponent("b.png"),
                                               withDestinationURL: input.appendingPathComponent("masks/b.png"))
    let error = try run.planError(fillRecipe(output: "{stem}.png"), output: output)
    #expect(error?.errorDescription == "b.png: output b.png would overwrite the mask masks/b.png; write to another --output")
}

/// Sidecar templates stay inside --input: `..` past its top and absolute paths refuse the plan;
/// a mask reached through a link that leads out fails its image without being read.
@Test func sidecarTemplatesCannotReachOutsideTheInput() throws {
    let run = try RecipeRun.maskedPhotos(["a", "b"])
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out")
    try write(rectangleMask(width: 16, height: 16, x: 0..<4, y: 0..<4), folder.appendingPathComponent("a.png"))
    let upward = try run.planError(fillRecipe(output: "{stem}.png", mask: "../{stem}.png"), output: output)
    #expect(upward == .outsideInput("match.mask '../{stem}.png' gives '../a.png' for a.png, outside --input; sidecar templates are relative to --input and stay inside it"))
    let absolute = try run.planError(fillRecipe(output: "{stem}.png", mask: "/etc/{stem}"), output: output)
    #expect(absolute?.errorDescription?.hasPrefix("match.mask '/etc/{stem}' gives '/etc/a'") == true)
    // Climbing out of a subfolder and back in stays inside.
    #expect(try run.planError(fillRecipe(output: "{stem}.png", mask: "masks/../masks/{stem}.png"), output: output) == nil)

    let outside = folder.appendingPathComponent("elsewhere")
    try write(rectangleMask(width: 16, height: 16, x: 0..<4, y: 0..<4), outside.appendingPathComponent("a.png"))
    try FileManager.default.createSymbolicLink(at: input.appendingPathComponent("linked"), withDestinationURL: outside)
    let plan = try BatchPlan(recipe: try recipe(fillRecipe(output: "{stem}.png", mask: "linked/{stem}.png"), in: folder),
                             input: input, output: output, seed: 0, shard: nil)
    let resolvedOutside = InputProtection.resolved(outside.path)
    #expect(plan.jobs.first?.problem == "a.png: mask linked/a.png leads outside --input (to \(resolvedOutside)/a.png)")
    #expect(plan.jobs.first?.mask == nil)
}
