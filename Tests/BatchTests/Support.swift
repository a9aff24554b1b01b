import Foundation
import Imaging
@testable import Batch
import OverpaintTestSupport
@testable import Recipes

/// A deterministic RGB test picture with smooth gradients and some texture.
func testPhoto(width: Int, height: Int, channels: Int = 3, seed: Int = 0) -> Image {
    var image = Image(width: width, height: height, channels: channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let wave = sin(Double(x * (c + 1) + seed) / 7) * cos(Double(y + c * 3) / 5)
                let value = (Double(x + y + c * 40 + seed * 13) / Double(width + height + 120)) * 0.7 + 0.15 * (wave + 1)
                image[x, y, c] = Float((value * 255).rounded() / 255)
            }
        }
    }
    return image
}

/// A gray mask with a white rectangle: white marks what to remove.
func rectangleMask(width: Int, height: Int, x: Range<Int>, y: Range<Int>) -> Image {
    var mask = Image(width: width, height: height, channels: 1)
    for row in y { for column in x { mask[column, row, 0] = 1 } }
    return mask
}

func write(_ image: Image, _ url: URL, format: ImageFormat = .png) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try ImageFile.write(image, to: url, format: format)
}

func recipe(_ yaml: String, in folder: URL) throws -> Recipe {
    let url = folder.appendingPathComponent("recipe.yaml")
    try yaml.write(to: url, atomically: true, encoding: .utf8)
    return try RecipeLoader(environment: [:]).load(url)
}

let fillRecipe = """
match:
  images: ["**/*.png", "**/*.jpg", "**/*.tif", "**/*.tiff"]
  mask: "masks/{stem}.png"
output:
  path: "{dir}/{stem}.png"
edits:
  - fill: {method: telea, radius: 3}
"""

func manifestLines(_ output: URL) throws -> [ManifestEntry] {
    let data = try Data(contentsOf: output.appendingPathComponent("manifest.jsonl"))
    return try data.split(separator: 0x0A).map { try JSONDecoder().decode(ManifestEntry.self, from: $0) }
}

func temporaryFiles(under folder: URL) -> [String] {
    let walker = FileManager.default.enumerator(atPath: folder.path)
    return (walker?.allObjects as? [String] ?? []).filter { $0.contains(OutputFolder.temporaryMarker) }
}

/// The `overpaint` executable built beside the test bundle.
func overpaintExecutable() -> URL {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [beside, beside.deletingLastPathComponent(), Fixtures.packageRoot.appendingPathComponent(".build/debug")]
    return candidates.map { $0.appendingPathComponent("overpaint") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[2].appendingPathComponent("overpaint")
}

/// A file that a child process writes its standard output or error into, created empty at `url`
/// and read back as text. Files rather than pipes: see `runOverpaint`.
struct OutputCapture {
    let url: URL
    let handle: FileHandle

    init(at url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        self.url = url
        handle = try FileHandle(forWritingTo: url)
    }

    /// What the process has written so far.
    func text() throws -> String { String(decoding: try Data(contentsOf: url), as: UTF8.self) }

    func close() { try? handle.close() }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the overpaint executable to completion. Its output goes to files rather than pipes:
/// a blocking pipe read fails with EINTR when a signal (a child's SIGCHLD) lands mid-read,
/// and reading one pipe to its end while the other fills would deadlock. `stdin`: a file
/// given as its standard input.
@discardableResult
func runOverpaint(_ arguments: [String], environment: [String: String]? = nil,
                  in directory: URL? = nil, stdin: URL? = nil) throws -> CommandResult {
    let process = Process()
    if let directory { process.currentDirectoryURL = directory }
    if let stdin { process.standardInput = try FileHandle(forReadingFrom: stdin) }
    process.executableURL = overpaintExecutable()
    process.arguments = arguments
    if let environment { process.environment = environment }
    let capture = try makeScratchFolder("capture")
    defer { try? FileManager.default.removeItem(at: capture) }
    let out = try OutputCapture(at: capture.appendingPathComponent("stdout"))
    let err = try OutputCapture(at: capture.appendingPathComponent("stderr"))
    defer {
        out.close()
        err.close()
    }
    process.standardOutput = out.handle
    process.standardError = err.handle
    try process.run()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: try out.text(), stderr: try err.text())
}

/// `folder/in` holding the input.png of the fixture `area` (the SD pipeline's by default) as
/// astronaut.png and, `withMask`, its mask.png as masks/astronaut.png: the inputs of the
/// parity cases.
func astronautInput(in folder: URL, withMask: Bool = false, area: String = "pipelines") throws -> URL {
    let fixtures = Fixtures.root.appendingPathComponent(area)
    let input = folder.appendingPathComponent("in")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("input.png"), to: input.appendingPathComponent("astronaut.png"))
    if withMask {
        try FileManager.default.createDirectory(at: input.appendingPathComponent("masks"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("mask.png"),
                                         to: input.appendingPathComponent("masks/astronaut.png"))
    }
    return input
}
