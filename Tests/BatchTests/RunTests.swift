import Foundation
import Imaging
import OverpaintTestSupport
import Testing
@testable import Batch
@testable import Recipes
import Tensors

private func runBatch(_ input: URL, _ output: URL, recipeIn folder: URL, yaml: String = fillRecipe,
                      existing: RunOptions.Existing = .fail, maxPixels: Int = 100_000_000) throws -> RunSummary {
    let recipe = try recipe(yaml, in: folder)
    let plan = try BatchPlan(recipe: recipe, input: input, output: output, seed: 0, shard: nil)
    return try BatchRunner(plan: plan, options: RunOptions(existing: existing, maxPixels: maxPixels)).run()
}

@Test func fillKeepsUnmaskedPixelsAndAlphaAndRecordsEverything() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
    let photo = testPhoto(width: 48, height: 40, channels: 4)
    try write(photo, input.appendingPathComponent("p.png"))
    try write(rectangleMask(width: 48, height: 40, x: 10..<20, y: 12..<22), input.appendingPathComponent("masks/p.png"))

    let summary = try runBatch(input, output, recipeIn: folder)
    #expect(summary == RunSummary(succeeded: 1, failed: 0, skipped: 0))
    let result = try ImageFile.read(output.appendingPathComponent("p.png"))
    #expect(result.width == 48 && result.height == 40 && result.channels == 4)
    var changedInside = 0
    for y in 0..<40 {
        for x in 0..<48 {
            let masked = (10..<20).contains(x) && (12..<22).contains(y)
            for c in 0..<4 where !masked {
                #expect(result[x, y, c] == photo[x, y, c], "\(x),\(y),\(c)")
            }
            if masked && result[x, y, 0] != photo[x, y, 0] { changedInside += 1 }
        }
    }
    #expect(changedInside > 50)
    let entries = try manifestLines(output)
    #expect(entries.count == 1)
    #expect(entries[0].status == .ok && entries[0].input == "p.png" && entries[0].edits == ["fill"])
    #expect(entries[0].sha256 == (try ContentHash.sha256(ofFileAt: output.appendingPathComponent("p.png"))))
    #expect(entries[0].precision == GEMMBackend.productsDescription)
    #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("report.html").path))
    let text = try ImageFile.readTextChunks(output.appendingPathComponent("p.png"))
    #expect(text["parameters"]?.contains("edits: fill") == true)
}

@Test func existingOutputsNeedResumeOrOverwrite() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
    for name in ["a", "b"] {
        try write(testPhoto(width: 16, height: 16), input.appendingPathComponent("\(name).png"))
        try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/\(name).png"))
    }
    #expect(try runBatch(input, output, recipeIn: folder).succeeded == 2)
    #expect(try runBatch(input, output, recipeIn: folder) == RunSummary(succeeded: 0, failed: 2, skipped: 0))
    #expect(try runBatch(input, output, recipeIn: folder, existing: .resume) == RunSummary(succeeded: 0, failed: 0, skipped: 2))
    // A damaged output no longer matches its manifest hash, so --resume makes it again.
    try Data("damaged".utf8).write(to: output.appendingPathComponent("b.png"))
    #expect(try runBatch(input, output, recipeIn: folder, existing: .resume) == RunSummary(succeeded: 1, failed: 0, skipped: 1))
    #expect(try runBatch(input, output, recipeIn: folder, existing: .overwrite).succeeded == 2)
}

/// The corpus of bad inputs: each fails alone with one line naming its file; the good
/// images are written; no temporary file is left.
@Test func badInputsFailOneByOneAndTheBatchGoesOn() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
    let good = testPhoto(width: 24, height: 20)
    let mask = rectangleMask(width: 24, height: 20, x: 5..<9, y: 5..<9)
    func addMask(_ stem: String, _ image: Image = mask) throws {
        try write(image, input.appendingPathComponent("masks/\(stem).png"))
    }
    try write(good, input.appendingPathComponent("good.png")); try addMask("good")
    try write(good, input.appendingPathComponent("good-jpeg.jpg"), format: .jpeg); try addMask("good-jpeg")
    try write(Image(width: 1, height: 1, channels: 3, fill: 0.5), input.appendingPathComponent("tiny.png"))
    try addMask("tiny", Image(width: 1, height: 1, channels: 1, fill: 0))
    var gray16 = Image(width: 24, height: 20, channels: 1, bitDepth: 16)
    for i in gray16.samples.indices { gray16.samples[i] = Float(i * 97 % 65536) / 65535 }
    try write(gray16, input.appendingPathComponent("gray16.tif"), format: .tiff); try addMask("gray16")

    for (name, format) in [("truncpng.png", ImageFormat.png), ("truncjpg.jpg", .jpeg), ("trunctif.tif", .tiff)] {
        let url = input.appendingPathComponent(name)
        try write(testPhoto(width: 64, height: 64), url, format: format)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        try addMask(String(name.split(separator: ".")[0]))
    }
    try Data("this is not a picture\n".utf8).write(to: input.appendingPathComponent("text.png")); try addMask("text")
    try Data().write(to: input.appendingPathComponent("empty.png")); try addMask("empty")
    try write(good, input.appendingPathComponent("wrongmask.png"))
    try addMask("wrongmask", rectangleMask(width: 10, height: 10, x: 0..<3, y: 0..<3))
    try write(good, input.appendingPathComponent("nomask.png"))
    try pngClaiming(width: 100_000, height: 100_000).write(to: input.appendingPathComponent("huge.png")); try addMask("huge")

    let summary = try runBatch(input, output, recipeIn: folder)
    #expect(summary.succeeded == 4)
    #expect(summary.failed == 8)
    let entries = try manifestLines(output)
    #expect(entries.count == 12)
    // Reading fails some jobs, editing others, and results are written a job behind: the
    // manifest still follows the plan's order.
    let plan = try BatchPlan(recipe: try recipe(fillRecipe, in: folder), input: input, output: output, seed: 0, shard: nil)
    #expect(entries.map(\.input) == plan.jobs.map(\.input))
    for entry in entries where entry.status == .failed {
        let error = entry.error ?? ""
        #expect(!error.contains("\n"))
        #expect(error.contains(entry.input) || error.contains(entry.mask ?? "\u{0}"), "\(error)")
    }
    let byInput = Dictionary(uniqueKeysWithValues: entries.map { ($0.input, $0) })
    #expect(byInput["nomask.png"]?.error?.contains("missing mask masks/nomask.png") == true)
    #expect(byInput["wrongmask.png"]?.error?.contains("10x10") == true)
    #expect(byInput["huge.png"]?.error?.contains("100000") == true)
    let gray = try ImageFile.read(output.appendingPathComponent("gray16.png"))
    #expect(gray.bitDepth == 16 && gray.channels == 1)
    #expect(temporaryFiles(under: output).isEmpty)
    #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("truncpng.png").path))
}

/// A PNG whose header claims a size and whose data is a few bytes: decoding it must be
/// refused by the size limit before any pixel memory is allocated.
func pngClaiming(width: UInt32, height: UInt32) -> Data {
    let header = PNGBytes.bigEndian(width) + PNGBytes.bigEndian(height) + [8, 2, 0, 0, 0]
    return Data(PNGBytes.signature + PNGBytes.chunk("IHDR", header)
        + PNGBytes.chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + PNGBytes.chunk("IEND", []))
}
