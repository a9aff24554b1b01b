import Foundation

/// Where a LoRA named in a prompt (`<lora:name:weight>`) is looked for, in order: `loras/` beside
/// the recipe, `models/loras` in the working folder, then `$OVERPAINT_LORAS`. The name is the
/// file's stem: `<lora:detail>` is `detail.safetensors` (pickle `.pt` / `.ckpt` files are never read).
public struct LoRAFolders: Sendable, Equatable {
    public let roots: [URL]

    public init(recipe: URL, environment: [String: String],
                workingFolder: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        roots = [recipe.deletingLastPathComponent().appendingPathComponent("loras"),
                 workingFolder.appendingPathComponent("models/loras"),
                 environment["OVERPAINT_LORAS"].map { URL(fileURLWithPath: $0) }].compactMap { $0 }
    }

    /// The file a prompt's LoRA name means, if any folder has it.
    public func file(named name: String) -> URL? {
        roots.lazy.map { $0.appendingPathComponent(name + ".safetensors").standardizedFileURL }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The folders searched, for error messages.
    public var searched: String {
        roots.map(\.path).joined(separator: ", ")
    }
}
