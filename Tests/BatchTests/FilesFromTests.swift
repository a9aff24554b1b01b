import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch

/// in/ with a.png, sub/b.png and c.png, each with its mask, and the fill recipe.
private func listCase(_ test: String = #function) throws -> (run: RecipeRun, recipe: URL) {
    let run = try RecipeRun(test)
    for name in ["a", "sub/b", "c"] {
        try write(testPhoto(width: 16, height: 16), run.input.appendingPathComponent("\(name).png"))
        let stem = name.split(separator: "/").last.map(String.init) ?? name
        try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), run.input.appendingPathComponent("masks/\(stem).png"))
    }
    return (run, try run.recipe(fillRecipe, named: "fill.yaml"))
}

/// `--files-from FILE` takes the images from the list, in its order, instead of the globs:
/// blank lines, `\r\n` endings and repeats are fine, an absolute path inside --input is that
/// path, and masks in a `find`-style list are still sidecars, not images.
@Test func filesFromAFileRunsTheListedImagesOnly() throws {
    let (run, recipe) = try listCase()
    defer { run.remove() }
    let list = try run.file("sub/b.png\r\n\n\(run.input.path)/a.png\nsub/b.png\nmasks/a.png\n", named: "list.txt")
    try run.runSucceeding(recipe, ["--files-from", list.path])
    #expect(try manifestLines(run.output).map(\.input) == ["sub/b.png", "a.png"])
    #expect(!FileManager.default.fileExists(atPath: run.output.appendingPathComponent("c.png").path))
}

/// `--files-from -` reads the list from standard input (as `xargs` or `parallel --pipe` feed it).
@Test func filesFromStandardInput() throws {
    let (run, recipe) = try listCase()
    defer { run.remove() }
    let result = try run.run(recipe, ["--files-from", "-"], stdin: try run.file("c.png\n", named: "list.txt"))
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try manifestLines(run.output).map(\.input) == ["c.png"])
}

/// A listed path outside --input or naming nothing refuses the run in one line naming the
/// list's line; nothing is written. A list of no images is exit 2, as a glob that matches none.
@Test func aListedPathOutsideTheInputOrMissingIsOneLineAndExit2() throws {
    let (run, recipe) = try listCase()
    defer { run.remove() }
    let (folder, input, output) = (run.folder, run.input, run.output)
    let list = folder.appendingPathComponent("list.txt")
    try write(testPhoto(width: 16, height: 16), folder.appendingPathComponent("outside.png"))
    let root = input.standardizedFileURL.path
    let cases = [
        "a.png\n../outside.png\n": "list.txt:2: ../outside.png: outside --input \(root); list paths relative to it",
        "\(folder.path)/outside.png\n": "list.txt:1: \(folder.path)/outside.png: outside --input \(root); list paths relative to it",
        "sub/../../outside.png\n": "list.txt:1: sub/../../outside.png: outside --input",
        "a.png\nnope.png\n": "list.txt:2: nope.png: no such file in --input \(root)",
        "\n\n": "list.txt: lists no images",
    ]
    for (text, message) in cases {
        try text.write(to: list, atomically: true, encoding: .utf8)
        let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--files-from", list.path])
        #expect(result.status == 2, "\(text): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(text): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }
    let unreadable = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path,
                                       "--files-from", folder.appendingPathComponent("no-list").path])
    #expect(unreadable.status == 2 && unreadable.stderr.contains("no-list: cannot read the --files-from list"))
}
