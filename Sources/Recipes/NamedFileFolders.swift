import Foundation

/// Where files a prompt names by their stem are looked for, in order: a folder beside the recipe,
/// the same under `models/` in the working folder, then an environment variable's folder.
/// LoRAs (`<lora:detail>` is `detail.safetensors`): `loras/`, `models/loras`, `$OVERPAINT_LORAS`;
/// textual inversion embeddings (a stem written in a prompt): `embeddings/`, `models/embeddings`,
/// `$OVERPAINT_EMBEDDINGS`. Only `.safetensors` files are found (pickles are never read).
public struct NamedFileFolders: Sendable, Equatable {
    public let roots: [URL]

    init(subfolder: String, variable: String, recipe: URL, environment: [String: String], workingFolder: URL) {
        roots = [recipe.deletingLastPathComponent().appendingPathComponent(subfolder),
                 workingFolder.appendingPathComponent("models/\(subfolder)"),
                 environment[variable].map { URL(fileURLWithPath: $0) }].compactMap { $0 }
    }

    public static func loras(recipe: URL, environment: [String: String],
                             workingFolder: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> Self {
        Self(subfolder: "loras", variable: "OVERPAINT_LORAS", recipe: recipe, environment: environment, workingFolder: workingFolder)
    }

    public static func embeddings(recipe: URL, environment: [String: String],
                                  workingFolder: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> Self {
        Self(subfolder: "embeddings", variable: "OVERPAINT_EMBEDDINGS", recipe: recipe, environment: environment,
             workingFolder: workingFolder)
    }

    /// The file a name means, if any folder has it.
    public func file(named name: String) -> URL? {
        roots.lazy.map { $0.appendingPathComponent(name + ".safetensors").standardizedFileURL }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Every `.safetensors` file of the folders by stem, the first folder's where two share a stem.
    public func files() -> [String: URL] {
        var found: [String: URL] = [:]
        for root in roots {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            for name in names.sorted() where name.hasSuffix(".safetensors") {
                let stem = String(name.dropLast(".safetensors".count))
                if found[stem] == nil { found[stem] = root.appendingPathComponent(name).standardizedFileURL }
            }
        }
        return found
    }

    /// The folders searched, for error messages.
    public var searched: String {
        roots.map(\.path).joined(separator: ", ")
    }
}
