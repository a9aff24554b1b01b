import Foundation
import OverpaintTestSupport
import Recipes
import Testing
import Weights
@testable import Batch

/// The committed corpus of broken inputs (tools/fuzz/make_malformed_corpus.py): hundreds of
/// damaged images, masks, recipes and model files. Each must cost its own image one line
/// naming the file, never the batch, the process or the files already written.
@Suite struct MalformedCorpusTests {
    static let corpus = Fixtures.root.appendingPathComponent("malformed")

    private static func files(in folder: String) throws -> [URL] {
        let url = corpus.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { !$0.hasDirectoryPath }.sorted { $0.path < $1.path }
    }

    /// Runs `recipe` over `input` as a user would, in a process of its own: a crash shows as a
    /// signal, a hang as the time limit, a failure per image as its manifest line.
    private func run(_ recipe: String, input: URL) throws -> (result: CommandResult, entries: [String: ManifestEntry]) {
        let folder = try makeScratchFolder("malformed")
        let recipeURL = folder.appendingPathComponent("recipe.yaml")
        try recipe.write(to: recipeURL, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("out")
        let result = try runOverpaint(["run", recipeURL.path, "--input", input.path, "--output", output.path])
        #expect(temporaryFiles(under: output).isEmpty, "temporary files left behind")
        let entries = try manifestLines(output).map { ($0.input, $0) }
        return (result, Dictionary(entries) { _, latest in latest })
    }

    @Test(.timeLimit(.minutes(10)))
    func everyBrokenImageFailsAloneInOneLineNamingIt() throws {
        let images = try Self.files(in: "images")
        #expect(images.count >= 500)
        let recipe = """
        match: {images: ["*.png", "*.jpg", "*.tif", "*.heic", "*.avif", "*.bmp"]}
        output: {path: "{stem}.png"}
        edits:
          - resize: {width: 8, height: 8, mode: stretch}
        """
        let (result, entries) = try run(recipe, input: Self.corpus.appendingPathComponent("images"))
        #expect(result.status == 1, "exit \(result.status): \(result.stderr.suffix(2000))")
        #expect(entries.count == images.count, "\(entries.count) manifest entries for \(images.count) images")
        var failed = 0
        for image in images {
            let name = image.lastPathComponent
            guard let entry = entries[name] else { Issue.record("\(name): no manifest entry"); continue }
            guard entry.status == .failed else { continue }
            failed += 1
            let error = entry.error ?? ""
            #expect(error.contains(name) && !error.contains("\n"), "\(name): \(error)")
        }
        #expect(failed >= images.count * 3 / 4, "only \(failed) of \(images.count) failed")
        for crafted in ["huge-500000000x1.png", "huge-2147483647x48.png", "huge-65500x65500.jpg", "huge-100000x100000.tif",
                        "huge-40000x40000.heic", "huge-20000x10000.heic", "huge-32768x32768.avif", "bmp-huge-100000x100000.bmp",
                        "bmp-huge-top-down-65536x65536.bmp"] {
            #expect(entries[crafted]?.error?.contains("is too large") == true, "\(crafted): \(entries[crafted]?.error ?? "none")")
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aBrokenMaskFailsOnlyItsImageAndNamesTheMask() throws {
        let images = try Self.files(in: "masks-images")
        let recipe = """
        match: {images: ["*.png"], mask: "masks/{stem}.png"}
        output: {path: "{stem}.png"}
        edits:
          - fill: {method: telea, radius: 3}
        """
        let (result, entries) = try run(recipe, input: Self.corpus.appendingPathComponent("masks-images"))
        #expect(result.status == 1, "exit \(result.status): \(result.stderr.suffix(2000))")
        #expect(entries.count == images.count)
        for image in images {
            let name = image.lastPathComponent
            guard let entry = entries[name], entry.status == .failed else { continue }
            let error = entry.error ?? ""
            #expect(error.contains("masks/\(name)") && !error.contains("\n"), "\(name): \(error)")
        }
        #expect(entries["missing-mask.png"]?.status == .failed)
        #expect(entries["huge.png"]?.error?.contains("is too large") == true, "\(entries["huge.png"]?.error ?? "none")")
    }

    /// Every damaged recipe either reads or fails with its problems located in it; none crashes
    /// the reader (alias bombs and 20,000-deep nesting included).
    @Test(.timeLimit(.minutes(5)))
    func everyBrokenRecipeIsReadOrRefusedWithLocatedProblems() throws {
        let recipes = try Self.files(in: "recipes")
        #expect(recipes.count >= 150)
        var refused = 0
        for recipe in recipes {
            do {
                _ = try RecipeLoader(environment: [:]).load(recipe)
            } catch {
                refused += 1
                let lines = (error.errorDescription ?? "").split(separator: "\n")
                #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix(recipe.path + ":") },
                        "\(recipe.lastPathComponent): \(error.errorDescription ?? "")")
            }
        }
        #expect(refused >= recipes.count / 2, "only \(refused) of \(recipes.count) refused")
    }

    /// Every damaged model file is refused with one message naming it, by the loader (every
    /// tensor it declares read) and by `models inspect` (exit 2, one line).
    @Test(.timeLimit(.minutes(5)))
    func everyBrokenModelFileIsRefusedInOneLineNamingIt() throws {
        let models = try Self.files(in: "models")
        #expect(models.count >= 30)
        for model in models {
            do {
                let file = try SafeTensorsFile(url: model)
                for key in file.keys { _ = try file.tensor(named: key) }
            } catch {
                let message = (error as? LocalizedError)?.errorDescription ?? "\(error)"
                #expect(message.contains(model.lastPathComponent), "\(model.lastPathComponent): \(message)")
            }
            let inspected = try runOverpaint(["models", "inspect", model.path])
            #expect(inspected.status == 0 || inspected.status == 2, "\(model.lastPathComponent): exit \(inspected.status)")
            if inspected.status == 2 {
                let lines = inspected.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(model.lastPathComponent),
                        "\(model.lastPathComponent): \(inspected.stderr)")
            }
        }
    }
}
