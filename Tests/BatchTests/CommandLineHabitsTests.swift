import Foundation
import Imaging
import OverpaintTestSupport
import Testing

/// What users of other batch tools expect of the command line: random seeds that are told and
/// kept, brace globs, a JSON plan, a list of the models bare names reach, help that says how.
@Suite struct CommandLineHabitsTests {
    /// in/ with a.png, b.tif and c.jpg, each with its mask, and the fill recipe with `extra` on top.
    static func batch(_ folder: URL, extra: String = "", images: String = "[\"*.{png,tif}\"]") throws -> (input: URL, recipe: URL) {
        let input = folder.appendingPathComponent("in")
        for (name, format) in [("a.png", ImageFormat.png), ("b.tif", .tiff), ("c.jpg", .jpeg)] {
            try write(testPhoto(width: 16, height: 16), input.appendingPathComponent(name), format: format)
            let stem = (name as NSString).deletingPathExtension
            try write(rectangleMask(width: 16, height: 16, x: 4..<8, y: 4..<8), input.appendingPathComponent("masks/\(stem).png"))
        }
        let recipe = folder.appendingPathComponent("fill.yaml")
        try (extra + "match: {images: \(images), mask: \"masks/{stem}.png\"}\nedits:\n  - fill: {method: telea}\n")
            .write(to: recipe, atomically: true, encoding: .utf8)
        return (input, recipe)
    }

    /// A1111's -1: one seed is drawn for the run, said on stderr and recorded for every image.
    @Test(arguments: [(recipe: "seed: -1\n", flag: [String]()), (recipe: "seed: 5\n", flag: ["--seed", "-1"])])
    func aRandomSeedIsToldAndRecorded(recipe: String, flag: [String]) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (input, recipeFile) = try Self.batch(folder, extra: recipe)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipeFile.path, "--input", input.path, "--output", output.path, "--quiet"] + flag)
        #expect(result.status == 0, "\(result.stderr)")
        let told = try #require(result.stderr.firstMatch(of: /this run uses seed (\d+)/)).output.1
        #expect(try manifestLines(output).map(\.seed) == [UInt64(told), UInt64(told)])
    }

    @Test func aSeedBelowMinusOneIsRefused() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (input, recipe) = try Self.batch(folder)
        let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", folder.appendingPathComponent("o").path,
                                       "--seed", "-2"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--seed must be 0 or more, or -1"), "\(result.stderr)")
    }

    /// `*.{png,tif}` takes a.png and b.tif, not c.jpg; `--dry-run --json` says so as one JSON object.
    @Test func braceGlobsAndTheJSONPlan() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (input, recipe) = try Self.batch(folder, extra: "seed: 3\n")
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipe.path, "--input", input.path, "--output", output.path, "--dry-run", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(plan["images"] as? Int == 2 && plan["edits"] as? [String] == ["fill"])
        let jobs = try #require(plan["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["input"] as? String } == ["a.png", "b.tif"])
        #expect(jobs.first?["mask"] as? String == "masks/a.png" && jobs.first?["seed"] as? Int == 3)
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    /// Each folder bare names are looked up in, with what its entries are.
    @Test func modelsListShowsWhatTheSearchFoldersHold() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models.appendingPathComponent("realesrgan"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: models.appendingPathComponent("taesd"), withDestinationURL: Fixtures.url("taesd", "taesd"))
        try FileManager.default.createSymbolicLink(at: models.appendingPathComponent("realesrgan/realesrgan-x4plus.param"),
                                                   withDestinationURL: Fixtures.url("esrgan", "rrdb.param"))
        var environment = ProcessInfo.processInfo.environment
        environment["OVERPAINT_MODELS"] = models.path
        let result = try runOverpaint(["models", "list"], environment: environment, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(models.path):", "\(result.stdout)")
        #expect(lines.contains { $0.contains("taesd") && $0.contains("AutoencoderTiny") }, "\(result.stdout)")
        #expect(lines.contains { $0.contains("realesrgan/realesrgan-x4plus.param") && $0.contains("upscale: {model: realesrgan-x4plus}") },
                "\(result.stdout)")
    }

    @Test func helpRunShowsExamplesExitCodesAndTheEnvironment() throws {
        let result = try runOverpaint(["help", "run"])
        #expect(result.status == 0)
        for part in ["Examples:", "Exit codes:", "OVERPAINT_MODELS", "OVERPAINT_THREADS", "SLURM_ARRAY_TASK_ID", "dpmpp_2m_karras"] {
            #expect(result.stdout.contains(part), "\(part)")
        }
    }
}
