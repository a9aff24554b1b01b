import ArgumentParser
import Foundation
import Models
import Recipes

/// `overpaint validate RECIPE`: exit 0, or every problem located and exit 2.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a recipe without running it.")

    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @Option(help: "Model to check the recipe with (as run's --model).")
    var model: String?

    func run() throws {
        let loaded = try loadRecipe(recipe, model: model)
        // A model of a family not supported yet fails here rather than on every image.
        if let path = loaded.model, let family = UnsupportedFamily.detect(at: URL(fileURLWithPath: path)) {
            let error = ModelsError.unsupportedFamily(path: path, family: family.rawValue)
            FileHandle.standardError.write(Data(((error.errorDescription ?? "\(error)") + "\n").utf8))
            throw ExitCode(2)
        }
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
