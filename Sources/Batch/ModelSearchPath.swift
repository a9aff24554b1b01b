import Foundation

/// Where a bare model name (`upscale: {model: realesrgan-x4plus}`, `vae: taesd`) is looked for,
/// in order: $OVERPAINT_MODELS, ./models, and models/ beside or above the recipe's folder (where
/// scripts/fetch-realesrgan puts them). `overpaint models list` shows what they hold.
public enum ModelSearchPath {
    public static func folders(recipe: URL) -> [URL] {
        let recipeFolder = recipe.deletingLastPathComponent()
        let folders = [ProcessInfo.processInfo.environment["OVERPAINT_MODELS"].map { URL(fileURLWithPath: $0) },
                       URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("models"),
                       recipeFolder.appendingPathComponent("models"),
                       recipeFolder.deletingLastPathComponent().appendingPathComponent("models")].compactMap { $0 }
        var seen: Set<String> = []
        return folders.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    /// The entries of `folder` a bare name can reach: its own, and Real-ESRGAN files under
    /// realesrgan/, as paths relative to it (hidden ones aside), sorted.
    public static func entries(of folder: URL) -> [String] {
        let manager = FileManager.default
        func visible(_ url: URL) -> [String] {
            ((try? manager.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        return visible(folder).flatMap { name -> [String] in
            guard name == "realesrgan" else { return [name] }
            return visible(folder.appendingPathComponent(name)).filter { $0.hasSuffix(".param") || $0.hasSuffix(".safetensors") }
                .map { "realesrgan/" + $0 }
        }
    }
}
