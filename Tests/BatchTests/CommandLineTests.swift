import Foundation
import Imaging
import OverpaintTestSupport
import Tensors
import Testing
@testable import Batch

/// Input folder with `count` small photos and their masks.
private func makeInput(_ folder: URL, count: Int, size: Int = 32) throws -> URL {
    let input = folder.appendingPathComponent("in")
    for index in 0..<count {
        try write(testPhoto(width: size, height: size, seed: index), input.appendingPathComponent("photo\(index).png"))
        try write(rectangleMask(width: size, height: size, x: size / 4..<size / 2, y: size / 3..<size / 2 + 2),
                  input.appendingPathComponent("masks/photo\(index).png"))
    }
    return input
}

/// A scratch folder with `count` photos of `size` and their masks as the input, and
/// `fillRecipe` as fill.yaml.
private func fillBatch(count: Int, size: Int = 32, _ test: String = #function) throws -> (run: RecipeRun, recipe: URL) {
    var run = try RecipeRun(test)
    run.input = try makeInput(run.folder, count: count, size: size)
    return (run, try run.recipe(fillRecipe, named: "fill.yaml"))
}

@Test func exitCodesFollowTheContract() throws {
    let (run, recipeURL) = try fillBatch(count: 2)
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out").path

    let done = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output, "--json"])
    #expect(done.status == 0, "\(done.stderr)")
    let lines = done.stdout.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines.allSatisfy { $0.contains("\"status\":\"ok\"") })

    let again = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output])
    #expect(again.status == 1)
    #expect(again.stderr.contains("exists; use --resume"))

    let broken = folder.appendingPathComponent("broken.yaml")
    try "edits:\n  - fill: {method: teela}\n".write(to: broken, atomically: true, encoding: .utf8)
    let invalid = try runOverpaint(["run", broken.path, "--input", input.path, "--output", folder.appendingPathComponent("never").path])
    #expect(invalid.status == 2)
    #expect(invalid.stderr.contains("broken.yaml:2:"))
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("never").path))

    let validate = try runOverpaint(["validate", broken.path])
    #expect(validate.status == 2)
    #expect(validate.stderr.contains("did you mean 'telea'"))
    #expect(try runOverpaint(["validate", recipeURL.path]).status == 0)
    #expect(try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output, "--resume", "--overwrite"]).status == 2)
}

@Test func dryRunPrintsThePlanAndWritesNothing() throws {
    let (run, recipeURL) = try fillBatch(count: 3)
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--dry-run", "--shard", "0/1"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("3 images"))
    #expect(result.stdout.contains("photo1.png -> photo1.png  mask: masks/photo1.png"))
    #expect(!FileManager.default.fileExists(atPath: output.path))
}

@Test func shardsSplitABatchWithoutOverlap() throws {
    let (run, recipeURL) = try fillBatch(count: 6, size: 16)
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out")
    var environment = ProcessInfo.processInfo.environment
    for index in 1...3 {
        environment["SLURM_ARRAY_TASK_ID"] = "\(index)"
        environment["SLURM_ARRAY_TASK_MIN"] = "1"
        environment["SLURM_ARRAY_TASK_COUNT"] = "3"
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
    }
    let entries = try manifestLines(output)
    #expect(entries.map(\.input).sorted() == (0..<6).map { "photo\($0).png" })
}

/// SIGKILL in the middle of a batch, then `--resume`: every output is complete and valid,
/// nothing is made twice that was recorded, no temporary file is left.
@Test func killedBatchResumesToCompletion() throws {
    let count = 30
    let (run, recipeURL) = try fillBatch(count: count, size: 128)
    defer { run.remove() }
    let (folder, input) = (run.folder, run.input)
    let output = folder.appendingPathComponent("out")

    let process = Process()
    process.executableURL = overpaintExecutable()
    process.arguments = ["run", recipeURL.path, "--input", input.path, "--output", output.path]
    process.standardError = FileHandle.nullDevice
    try process.run()
    let manifest = output.appendingPathComponent("manifest.jsonl")
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline {
        let lines = (try? Data(contentsOf: manifest))?.filter { $0 == 0x0A }.count ?? 0
        if lines >= 2 { break }
        usleep(5_000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let before = try manifestLines(output).count
    #expect(before >= 2 && before < count, "killed after \(before) of \(count) images")

    let resumed = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path, "--resume"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let entries = try manifestLines(output)
    #expect(Set(entries.map(\.input)).count == count)
    for entry in entries {
        let image = try ImageFile.read(output.appendingPathComponent(entry.output))
        #expect(image.width == 128 && image.height == 128)
        #expect(try ContentHash.sha256(ofFileAt: output.appendingPathComponent(entry.output)) == entry.sha256)
    }
    #expect(temporaryFiles(under: output).isEmpty)
}

@Test func outputFolderReachedThroughASymlinkIsRefused() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = try makeInput(folder, count: 1, size: 16)
    let outside = folder.appendingPathComponent("elsewhere")
    let output = folder.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(at: output.appendingPathComponent("linked"), withDestinationURL: outside)
    let recipeURL = folder.appendingPathComponent("fill.yaml")
    try fillRecipe.replacingOccurrences(of: "{dir}/{stem}.png", with: "linked/{stem}.png")
        .write(to: recipeURL, atomically: true, encoding: .utf8)
    let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path])
    #expect(result.status == 1)
    #expect(result.stderr.contains("symlink"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
}

/// Every recipe in recipes/ that runs without a downloaded model, over the real samples.
@Test func removeObjectsRecipeRunsOverTheSamples() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out")
    let result = try runOverpaint(["run", Fixtures.packageRoot.appendingPathComponent("recipes/remove-objects.yaml").path,
                                   "--input", Fixtures.packageRoot.appendingPathComponent("samples").path, "--output", output.path])
    #expect(result.status == 0, "\(result.stderr)")
    for stem in ["astronaut", "chelsea", "coffee", "rocket"] {
        let original = try ImageFile.read(Fixtures.packageRoot.appendingPathComponent("samples").appendingPathComponent(
            stem == "rocket" ? "rocket.jpg" : "\(stem).png"))
        let mask = try ImageFile.read(Fixtures.packageRoot.appendingPathComponent("samples/masks/\(stem).png"))
        let edited = try ImageFile.read(output.appendingPathComponent("\(stem).png"))
        #expect(edited.width == original.width && edited.height == original.height)
        // Far from the mask (beyond mask_grow) every pixel is the input's.
        let near = dilated(mask, radius: 4)
        var changedOutside = 0, changedInside = 0
        for y in 0..<original.height {
            for x in 0..<original.width {
                let near = near[y * mask.width + x]
                let same = (0..<3).allSatisfy { edited[x, y, $0] == original[x, y, $0] }
                if !near && !same { changedOutside += 1 }
                if mask[x, y, 0] > 0.5 && !same { changedInside += 1 }
            }
        }
        #expect(changedOutside == 0, "\(stem)")
        #expect(changedInside > 100, "\(stem)")
    }
    let report = try String(contentsOf: output.appendingPathComponent("report.html"), encoding: .utf8)
    #expect(report.contains("4 images, 4 done, 0 failed"))
    #expect(report.contains("report/astronaut.png.mask.jpg"))
}

/// Pixels within `radius` (Chebyshev) of a mask pixel above one half.
private func dilated(_ mask: Image, radius: Int) -> [Bool] {
    let (width, height) = (mask.width, mask.height)
    var rows = [Bool](repeating: false, count: width * height)
    for y in 0..<height {
        for x in 0..<width where mask[x, y, 0] > 0.5 {
            for dx in max(0, x - radius)...min(width - 1, x + radius) { rows[y * width + dx] = true }
        }
    }
    var result = [Bool](repeating: false, count: width * height)
    for y in 0..<height {
        for x in 0..<width where rows[y * width + x] {
            for dy in max(0, y - radius)...min(height - 1, y + radius) { result[dy * width + x] = true }
        }
    }
    return result
}

@Test func anUnknownGEMMBackendIsRefusedBeforeAnyWork() throws {
    var environment = ProcessInfo.processInfo.environment
    environment["OVERPAINT_GEMM"] = "cublas"
    let result = try runOverpaint(["models", "inspect", "/nonexistent"], environment: environment)
    #expect(result.status == 2)
    #expect(result.stderr == """
        overpaint: OVERPAINT_GEMM=cublas is not a GEMM backend (known: openblas, onednn, bf16, f16)

        """)
}

@Test(arguments: ["bf16", "f16"])
func reducedPrecisionRunsOnlyWhereTheCPUHasIt(precision: String) throws {
    let result = try runOverpaint(["bench", "--precision", precision, "--no-kernels", "--repetitions", "1"],
                                  environment: ProcessInfo.processInfo.environment)
    let backend = try #require(GEMMBackend(rawValue: precision))
    if (try? GEMMBackend.checkSupported(backend)) != nil {
        #expect(result.status == 0)
        #expect(result.stdout.contains("GEMM: \(precision)"))
    } else {
        let needs = precision == "bf16" ? "avx512_bf16" : "avx512_fp16"
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("Error: \(precision) needs a CPU with \(needs), which this one lacks; use f32"))
    }
}
