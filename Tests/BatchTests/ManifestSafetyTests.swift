import Foundation
import Testing
@testable import Batch
import OverpaintTestSupport

/// Two photos with masks for `fillRecipe`, in `folder/in`.
func photosWithMasks(_ names: [String], in folder: URL) throws -> URL {
    let input = folder.appendingPathComponent("in")
    for name in names {
        try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("\(name).png"))
        try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/\(name).png"))
    }
    return input
}

/// `overpaint run` of `yaml` (written beside the input) over `input` into `output`.
func runRecipe(_ yaml: String, _ input: URL, _ output: URL, _ flags: [String] = []) throws -> CommandResult {
    let recipe = input.deletingLastPathComponent().appendingPathComponent("recipe.yaml")
    try yaml.write(to: recipe, atomically: true, encoding: .utf8)
    return try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path] + flags)
}

private func occurrences(of text: String, in string: String) -> Int {
    string.components(separatedBy: text).count - 1
}

@Test func aManifestThatIsASymlinkIsNeverWrittenThrough() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out"), elsewhere = folder.appendingPathComponent("elsewhere.txt")
    try Data("precious\n".utf8).write(to: elsewhere)
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(at: output.appendingPathComponent("manifest.jsonl"), withDestinationURL: elsewhere)

    let result = try runRecipe(fillRecipe, input, output)
    #expect(result.status == 2, "\(result.stderr)")
    #expect(result.stderr.contains("manifest.jsonl") && result.stderr.contains("symbolic link"), "\(result.stderr)")
    #expect(try String(contentsOf: elsewhere, encoding: .utf8) == "precious\n")
    #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("a.png").path))
}

/// A run killed mid-append leaves a last line without its newline: the next record starts on
/// a line of its own, the torn line is reported once and ignored, and nothing is remade twice.
@Test func aTornManifestTailIsRepairedAndReportedOnce() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a", "b"], in: folder)
    let output = folder.appendingPathComponent("out")
    #expect(try runRecipe(fillRecipe, input, output).status == 0)
    let manifest = output.appendingPathComponent("manifest.jsonl")
    let handle = try FileHandle(forWritingTo: manifest)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(#"{"input":"b.png","output":"b.p"#.utf8))
    try handle.close()
    try FileManager.default.removeItem(at: output.appendingPathComponent("b.png"))

    let resumed = try runRecipe(fillRecipe, input, output, ["--resume"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(occurrences(of: "not a record", in: resumed.stderr) == 1, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("line 3"), "\(resumed.stderr)")
    let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 4)
    #expect(lines.filter { (try? JSONDecoder().decode(ManifestEntry.self, from: Data($0.utf8))) != nil }.count == 3)

    let again = try runRecipe(fillRecipe, input, output, ["--resume"])
    #expect(again.stderr.contains("0 done, 0 failed, 2 skipped"), "\(again.stderr)")
}

/// A folder of `--output` that is a symlink to somewhere else is refused before anything is
/// created through it.
@Test func noFolderIsCreatedThroughASymlinkLeavingTheOutput() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out"), elsewhere = folder.appendingPathComponent("elsewhere")
    try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(at: output.appendingPathComponent("link"), withDestinationURL: elsewhere)
    let yaml = fillRecipe.replacingOccurrences(of: #""{dir}/{stem}.png""#, with: #""link/new/{stem}.png""#)

    let result = try runRecipe(yaml, input, output)
    #expect(result.status == 1)
    #expect(result.stderr.contains("outside the output folder"), "\(result.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
}
