import Foundation
import Testing
@testable import Batch
import OverpaintTestSupport

private func expectStderr(_ result: CommandResult, _ texts: String..., status: Int32 = 0,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "\(result.stderr)", sourceLocation: sourceLocation)
    for text in texts { #expect(result.stderr.contains(text), "\(result.stderr)", sourceLocation: sourceLocation) }
}

@Test func resumeRemakesOutputsOfAnotherSeedAndSaysWhy() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a", "b"], in: folder)
    let output = folder.appendingPathComponent("out")
    expectStderr(try runRecipe(fillRecipe, input, output), "2 done")

    expectStderr(try runRecipe(fillRecipe, input, output, ["--resume", "--seed", "999"]),
                 "remaking a.png: seed 0 -> 999\n", "remaking b.png: seed 0 -> 999\n", "2 done, 0 failed, 0 skipped")
    expectStderr(try runRecipe(fillRecipe, input, output, ["--resume", "--seed", "999"]), "0 done, 0 failed, 2 skipped")
}

@Test func resumeRemakesOutputsOfAnotherRecipeInputOrMask() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a", "b", "c"], in: folder)
    let output = folder.appendingPathComponent("out")
    expectStderr(try runRecipe(fillRecipe, input, output), "3 done")

    let wider = fillRecipe.replacingOccurrences(of: "radius: 3", with: "radius: 5")
    expectStderr(try runRecipe(wider, input, output, ["--resume"]),
                 "remaking a.png: edits.0.fill.radius 3 -> 5\n", "3 done, 0 failed, 0 skipped")

    try write(testPhoto(width: 16, height: 16, seed: 7), input.appendingPathComponent("b.png"))
    try write(rectangleMask(width: 16, height: 16, x: 1..<3, y: 1..<3), input.appendingPathComponent("masks/c.png"))
    expectStderr(try runRecipe(wider, input, output, ["--resume"]),
                 "remaking b.png: input changed\n", "remaking c.png: mask changed\n", "2 done, 0 failed, 1 skipped")
}

/// Records written before fingerprints existed vouch for nothing.
@Test func resumeRemakesOutputsWhoseRecordHasNoFingerprint() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out")
    expectStderr(try runRecipe(fillRecipe, input, output), "1 done")
    let manifest = output.appendingPathComponent("manifest.jsonl")
    var entry = try #require(try manifestLines(output).first)
    entry.fingerprint = nil
    try (Manifest.encoder.encode(entry) + Data("\n".utf8)).write(to: manifest)

    expectStderr(try runRecipe(fillRecipe, input, output, ["--resume"]),
                 "remaking a.png: its record has no fingerprint", "1 done, 0 failed, 0 skipped")
}

/// A model is known by its content, hashed once and then remembered by path, size and
/// modification time: another file at the same path remakes the outputs; a cached hash is
/// believed while the file's size and time are as recorded.
@Test func resumeRemakesOutputsOfAnotherModelFileAndCachesModelHashes() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try photosWithMasks(["a"], in: folder)
    let output = folder.appendingPathComponent("out"), cache = folder.appendingPathComponent("cache")
    let model = folder.appendingPathComponent("models/x4.safetensors")
    let fixtures = Fixtures.root.appendingPathComponent("esrgan")
    try FileManager.default.createDirectory(at: model.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("srvgg.safetensors"), to: model)
    let yaml = """
    match: {images: ["*.png"]}
    edits:
      - upscale: {model: \(model.path), scale: 4, tile: 0}
    """
    var environment = ProcessInfo.processInfo.environment
    environment["XDG_CACHE_HOME"] = cache.path
    let recipeURL = folder.appendingPathComponent("upscale.yaml")
    try yaml.write(to: recipeURL, atomically: true, encoding: .utf8)
    let run = { (flags: [String]) in
        try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path] + flags,
                         environment: environment)
    }
    expectStderr(try run([]), "1 done")
    let cacheFile = cache.appendingPathComponent("overpaint/file-hashes.json")
    var cached = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: cacheFile)) as? [String: [String: Any]])
    let key = model.resolvingSymlinksInPath().path
    #expect(cached[key]?["sha256"] as? String == (try ContentHash.sha256(ofFileAt: model)))
    expectStderr(try run(["--resume"]), "0 done, 0 failed, 1 skipped")

    // Size and time as recorded: the cached hash is believed, so the model seems another.
    cached[key]?["sha256"] = String(repeating: "0", count: 64)
    try JSONSerialization.data(withJSONObject: cached).write(to: cacheFile)
    expectStderr(try run(["--resume"]), "remaking a.png: edits.0.upscale.model changed\n", "1 done")

    try FileManager.default.removeItem(at: model)
    try FileManager.default.copyItem(at: fixtures.appendingPathComponent("rrdb.safetensors"), to: model)
    expectStderr(try run(["--resume"]), "remaking a.png: edits.0.upscale.model changed\n", "1 done")
    expectStderr(try run(["--resume"]), "0 done, 0 failed, 1 skipped")
}
