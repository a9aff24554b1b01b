import Foundation
import OverpaintTestSupport
import Testing

/// `overpaint run -` and `validate -` read the recipe from standard input, with its relative
/// paths resolved against the working directory; errors name "standard input".
@Suite struct RecipeFromStandardInputTests {
    @Test func runReadsTheRecipeFromStandardInput() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in")
        try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("a.png"))
        try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/a.png"))
        let recipe = folder.appendingPathComponent("piped.yaml")
        try fillRecipe.write(to: recipe, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", "-", "--input", input.path, "--output", output.path], stdin: recipe)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try manifestLines(output).map(\.input) == ["a.png"])
    }

    /// A relative model path in a piped recipe is looked for in the working directory.
    @Test func validateResolvesRelativePathsAgainstTheWorkingDirectory() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = folder.appendingPathComponent("piped.yaml")
        try (fillRecipe + "\nmodel: models/nowhere\n").write(to: recipe, atomically: true, encoding: .utf8)
        let result = try runOverpaint(["validate", "-"], in: folder, stdin: recipe)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("standard input:"), "\(result.stderr)")
        #expect(result.stderr.contains(folder.appendingPathComponent("models/nowhere").standardizedFileURL.path), "\(result.stderr)")
    }

    @Test func theRecipeAndTheFileListCannotBothComeFromStandardInput() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = folder.appendingPathComponent("piped.yaml")
        try fillRecipe.write(to: recipe, atomically: true, encoding: .utf8)
        let result = try runOverpaint(["run", "-", "--input", folder.path, "--output", folder.appendingPathComponent("out").path,
                                       "--files-from", "-"], stdin: recipe)
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot both be read from standard input"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out").path))
    }
}
