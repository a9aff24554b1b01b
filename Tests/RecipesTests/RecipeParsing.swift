import Foundation
@testable import Recipes

/// Recipe text read as `validate` reads it, except that the files it names need not exist.
enum RecipeParsing {
    /// Where the recipes under test are read from: relative paths resolve against /recipes.
    static let source = URL(fileURLWithPath: "/recipes/test.yaml")

    static func parse(_ yaml: String, environment: [String: String] = [:]) throws -> Recipe {
        try RecipeLoader(environment: environment, checkFiles: false).parse(yaml, source: source)
    }

    /// Every problem reading `yaml` reports; none when it reads.
    static func issues(_ yaml: String) -> [RecipeIssue] {
        do {
            _ = try parse(yaml)
            return []
        } catch {
            guard case .invalid(_, let issues) = error as? RecipeError else { return [] }
            return issues
        }
    }
}
