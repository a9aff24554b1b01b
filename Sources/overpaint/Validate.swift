import ArgumentParser
import Foundation
import Recipes

/// `overpaint validate RECIPE`: exit 0, or every problem located and exit 2.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a recipe without running it.")

    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @Option(help: "Model to check the recipe with (as run's --model).")
    var model: String?

    func run() throws {
        _ = try loadRecipe(recipe, model: model)
        print("\(recipe): ok")
    }
}

/// Loads a recipe or exits 2 with its problems on stderr, one per line.
func loadRecipe(_ path: String, model: String?) throws -> Recipe {
    do {
        return try RecipeLoader(modelOverride: model).load(URL(fileURLWithPath: path))
    } catch {
        FileHandle.standardError.write(Data(((error.errorDescription ?? "\(error)") + "\n").utf8))
        throw ExitCode(2)
    }
}
