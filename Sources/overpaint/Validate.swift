import ArgumentParser
import Batch
import Foundation
import Models
import Recipes

/// `overpaint validate RECIPE`: exit 0, or every problem located and exit 2. It checks what
/// `run` checks before its first image (`Preflight`), loading every model, so a recipe that
/// validates cannot fail every image; with `--input` and `--output`, the folders too.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a recipe without running it: its keys, the environment, and that every model loads.")

    @Argument(help: "The recipe file (YAML), or - to read it from standard input.",
              completion: .file(extensions: ["yaml", "yml"]))
    var recipe: String

    @Option(help: "Model to check the recipe with (as run's --model).", completion: .file())
    var model: String?

    @Option(help: "Also check this input folder (as run's --input): the globs match images, mask and control folders exist.",
            completion: .directory)
    var input: String?

    @Option(help: "With --input: the output folder (as run's --output); no output may land on an input.",
            completion: .directory)
    var output: String?

    @Option(help: ArgumentHelp("With --input: the images to plan instead of match.images (as run's --files-from).", valueName: "file|-"))
    var filesFrom: String?

    @Flag(help: "Print one JSON object: {\"recipe\", \"ok\", \"problems\", \"images\"}.")
    var json = false

    func validate() throws {
        if (input == nil) != (output == nil) { throw ValidationError("--input and --output go together") }
        if filesFrom != nil && input == nil { throw ValidationError("--files-from needs --input and --output") }
        try refuseTwoReadersOfStandardInput(recipe: recipe, filesFrom: filesFrom)
    }

    func run() throws {
        var problems: [String] = []
        var images: Int?
        do {
            let recipe = try RecipeLoader(modelOverride: model).load(argument: self.recipe)
            let preflight = Preflight(recipe: recipe)
            problems = preflight.problems()
            do { try preflight.loadModels() } catch { problems += error.errorDescription.map { [$0] } ?? [] }
            if let input, let output {
                do {
                    images = try BatchPlan(recipe: recipe, input: URL(fileURLWithPath: input),
                                           output: URL(fileURLWithPath: output), seed: 0, shard: nil,
                                           list: filesFrom.map(FileList.read)).jobs.count
                } catch {
                    problems.append(error.errorDescription ?? "\(error)")
                }
            }
        } catch {
            problems = [error.errorDescription ?? "\(error)"]
        }
        let lines = problems.flatMap { $0.split(whereSeparator: \.isNewline).map(String.init) }
        if json {
            var report: [String: Any] = ["recipe": self.recipe, "ok": lines.isEmpty, "problems": lines]
            if let images { report["images"] = images }
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else if lines.isEmpty {
            print("\(recipe == RecipeLoader.standardInput ? "standard input" : recipe): ok" + (images.map { ", \($0) images" } ?? ""))
        } else {
            FileHandle.standardError.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        }
        if !lines.isEmpty { throw ExitCode(2) }
    }
}

/// Loads a recipe or exits 2 with its problems on stderr, one per line.
func loadRecipe(_ path: String, model: String?) throws -> Recipe {
    do {
        return try RecipeLoader(modelOverride: model).load(argument: path)
    } catch {
        FileHandle.standardError.write(Data(((error.errorDescription ?? "\(error)") + "\n").utf8))
        throw ExitCode(2)
    }
}

/// Standard input holds one stream: the recipe or the --files-from list, not both.
func refuseTwoReadersOfStandardInput(recipe: String, filesFrom: String?) throws {
    if recipe == RecipeLoader.standardInput && filesFrom == "-" {
        throw ValidationError("the recipe and --files-from cannot both be read from standard input (-)")
    }
}

/// Exits 2 with `problems` on stderr, one per line, when there are any.
func refuse(_ problems: [String]) throws {
    guard !problems.isEmpty else { return }
    FileHandle.standardError.write(Data(problems.map { $0 + "\n" }.joined().utf8))
    throw ExitCode(2)
}
