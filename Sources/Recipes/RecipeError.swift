import Foundation

/// One problem found in a recipe, located in its file.
public struct RecipeIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// Where in the recipe: `edits[1].inpaint.strength`.
    public var keyPath: String
    public var message: String

    public var description: String {
        keyPath.isEmpty ? "\(line):\(column): \(message)" : "\(line):\(column): \(keyPath): \(message)"
    }
}

public enum RecipeError: LocalizedError, Equatable {
    /// The recipe file could not be read at all.
    case unreadable(path: String, reason: String)
    /// The recipe was read; these problems were found, all of them.
    case invalid(path: String, issues: [RecipeIssue])

    public var errorDescription: String? {
        switch self {
        case .unreadable(let path, let reason):
            "\(path): \(reason)"
        case .invalid(let path, let issues):
            issues.map { "\(path):\($0)" }.joined(separator: "\n")
        }
    }
}
