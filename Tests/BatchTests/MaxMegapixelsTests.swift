import Foundation
import OverpaintTestSupport
import Testing

/// `--max-megapixels` times a million must fit an Int: a larger value is an argument error
/// (exit 2, nothing written), not an arithmetic-overflow trap.
@Test func maxMegapixelsBeyondAnIntIsAnArgumentError() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let recipeURL = folder.appendingPathComponent("fill.yaml")
    try fillRecipe.write(to: recipeURL, atomically: true, encoding: .utf8)
    let input = folder.appendingPathComponent("in")
    try write(testPhoto(width: 8, height: 8), input.appendingPathComponent("a.png"))
    try write(rectangleMask(width: 8, height: 8, x: 2..<4, y: 2..<4), input.appendingPathComponent("masks/a.png"))
    let output = folder.appendingPathComponent("out")
    for value in ["9300000000000", "9223372036855"] {
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path,
                                       "--max-megapixels", value])
        #expect(result.status == 2, "\(value): \(result.stderr)")
        #expect(result.stderr.contains("--max-megapixels \(value) is more pixels than can be counted"), "\(result.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: output.path))
    let largest = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path,
                                    "--max-megapixels", "9223372036854"])
    #expect(largest.status == 0, "\(largest.stderr)")
}
