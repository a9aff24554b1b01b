import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch

/// in/ with a.png, sub/b.png and c.png, each with its mask, and the fill recipe.
private func listCase(_ folder: URL) throws -> (input: URL, recipe: URL) {
    let input = folder.appendingPathComponent("in")
    for name in ["a", "sub/b", "c"] {
        try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("\(name).png"))
        let stem = name.split(separator: "/").last.map(String.init) ?? name
        try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/\(stem).png"))
    }
    let recipe = folder.appendingPathComponent("fill.yaml")
    try fillRecipe.write(to: recipe, atomically: true, encoding: .utf8)
    return (input, recipe)
}

/// `--files-from FILE` takes the images from the list, in its order, instead of the globs:
/// blank lines, `\r\n` endings and repeats are fine, an absolute path inside --input is that
/// path, and masks in a `find`-style list are still sidecars, not images.
@Test func filesFromAFileRunsTheListedImagesOnly() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (input, recipe) = try listCase(folder)
    let list = folder.appendingPathComponent("list.txt")
    try "sub/b.png\r\n\n\(input.path)/a.png\nsub/b.png\nmasks/a.png\n".write(to: list, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--files-from", list.path])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try manifestLines(output).map(\.input) == ["sub/b.png", "a.png"])
    #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("c.png").path))
}

/// `--files-from -` reads the list from standard input (as `xargs` or `parallel --pipe` feed it).
@Test func filesFromStandardInput() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (input, recipe) = try listCase(folder)
    let list = folder.appendingPathComponent("list.txt")
    try "c.png\n".write(to: list, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--files-from", "-"],
                                  stdin: list)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try manifestLines(output).map(\.input) == ["c.png"])
}

/// A listed path outside --input or naming nothing refuses the run in one line naming the
/// list's line; nothing is written. A list of no images is exit 2, as a glob that matches none.
@Test func aListedPathOutsideTheInputOrMissingIsOneLineAndExit2() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (input, recipe) = try listCase(folder)
    let output = folder.appendingPathComponent("out")
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
