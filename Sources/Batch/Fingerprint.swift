import Foundation
import Pipelines
import Recipes
import Tensors

/// Everything that decides an output, as named parts: the content hashes of the image, its
/// mask, control map and prompt file, the seed, every edit setting with its default filled in
/// (model paths replaced by their files' identity), the recipe's VAE, LoRAs and embeddings, the
/// precision and the output format, quality and metadata. `--resume` keeps an output only when every part is as recorded, and otherwise says
/// which parts changed.
struct Fingerprint {
    /// Parts whose values are content hashes: a change is told as "changed", not by value.
    static let hashPrefix = "sha256:"
    /// Record fields holding model paths, whose files' identity stands for them.
    private static let modelFields: Set<String> = ["model", "depthModel"]

    /// The parts every image of the run shares.
    let shared: [String: String]

    init(recipe: Recipe, hashes: FileHashCache) {
        var parts: [String: String] = [:]
        let identity = { (model: String) in
            Self.identity(ofModelAt: ModelCache.resolveUpscaler(model, recipe: recipe.source) ?? model, hashes: hashes)
        }
        for (index, edit) in recipe.edits.enumerated() {
            Self.flatten(edit, at: "edits.\(index)", into: &parts, model: identity)
        }
        Self.addModelChoices(of: recipe, to: &parts, hashes: hashes)
        parts["precision"] = GEMMBackend.active.precisionName
        parts["output quality"] = "\(recipe.output.quality)"
        parts["output metadata"] = recipe.output.metadata.rawValue
        shared = parts
    }

    /// What the recipe adds to every generation's model: its VAE, LoRAs (with weights) and
    /// embeddings, by their files' identity.
    private static func addModelChoices(of recipe: Recipe, to parts: inout [String: String], hashes: FileHashCache) {
        if let vae = recipe.vae {
            let folder = ModelCache.resolveVAE(vae, recipe: recipe.source)
            parts["vae"] = folder.map { identity(ofModelAt: $0, hashes: hashes) } ?? "missing \(vae)"
            if recipe.vaeEncoder == .full, let folder, StableDiffusion.isTinyAutoencoder(URL(fileURLWithPath: folder)) {
                parts["vae encoder"] = "full"
            }
        }
        for (index, lora) in recipe.loras.enumerated() {
            parts["loras.\(index)"] = "\(identity(ofModelAt: lora.path, hashes: hashes)) x \(lora.weight)"
        }
        for (index, embedding) in recipe.embeddings.enumerated() {
            parts["embeddings.\(index)"] = identity(ofModelAt: embedding, hashes: hashes)
        }
    }

    /// `shared` with the parts of `job`: its files' content hashes, its seed, its output format.
    func parts(for job: Job, recipe: Recipe, inputRoot: URL) -> [String: String] {
        var parts = shared
        let hash = { (relative: String) in
            (try? ContentHash.sha256(ofFileAt: inputRoot.appendingPathComponent(relative))).map { Self.hashPrefix + $0 }
                ?? "unreadable"
        }
        parts["input"] = hash(job.input)
        parts["mask"] = job.mask.map(hash)
        parts["control map"] = job.control.map(hash)
        parts["prompt file"] = job.prompt.map { Self.hashPrefix + ContentHash.sha256(of: Data($0.utf8)) }
        parts["seed"] = "\(job.seed)"
        let format = recipe.output.format ?? OutputFormat(extension: (job.output as NSString).pathExtension) ?? .png
        parts["output format"] = format.rawValue
        return parts
    }

    /// What changed from `recorded` to `current`, in one line ("seed 0 -> 999; input
    /// changed"), or nil when nothing did.
    static func differences(from recorded: [String: String], to current: [String: String]) -> String? {
        let first = ["input", "mask", "control map", "prompt file", "seed"]
        let keys = first + Set(recorded.keys).union(current.keys).subtracting(first).sorted()
        let changes = keys.compactMap { key -> String? in
            let (old, new) = (recorded[key], current[key])
            guard old != new else { return nil }
            guard let old else { return "\(key) added" }
            guard let new else { return "\(key) removed" }
            if old.hasPrefix(hashPrefix) || new.hasPrefix(hashPrefix) { return "\(key) changed" }
            return "\(key) \(shown(old)) -> \(shown(new))"
        }
        guard !changes.isEmpty else { return nil }
        let more = changes.count > 3 ? " and \(changes.count - 3) more" : ""
        return changes.prefix(3).joined(separator: "; ") + more
    }

    /// The identity of a model: the content hash of its file (with its `.bin` for an ncnn
    /// `.param`), or for a folder, a hash of every file's path and hash (hidden ones aside).
    static func identity(ofModelAt path: String, hashes: FileHashCache) -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return "missing \(path)" }
        let root = URL(fileURLWithPath: path)
        var files = isFolder.boolValue ? regularFiles(under: root, depth: 0) : [""]
        if path.hasSuffix(".param") { files.append("../" + root.deletingPathExtension().lastPathComponent + ".bin") }
        do {
            let listed = try files.map { relative in
                let file = relative.isEmpty ? root : root.appendingPathComponent(relative)
                return "\(relative)\t\(try hashes.sha256(ofFileAt: file.standardizedFileURL.path))\n"
            }
            if listed.count == 1, let only = listed.first, let hash = only.split(separator: "\t").last {
                return hashPrefix + hash.dropLast()
            }
            return hashPrefix + ContentHash.sha256(of: Data(listed.joined().utf8))
        } catch {
            return "unreadable \(path)"
        }
    }

    /// Paths relative to `folder` of its regular files, symlinks followed, sorted; hidden
    /// entries (`.git`, `.cache`) are not part of a model.
    private static func regularFiles(under folder: URL, depth: Int) -> [String] {
        guard depth < 8, let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter { !$0.hasPrefix(".") }.sorted().flatMap { name -> [String] in
            let url = folder.appendingPathComponent(name)
            var status = stat()
            guard stat(url.path, &status) == 0 else { return [] }
            switch status.st_mode & S_IFMT {
            case S_IFDIR: return regularFiles(under: url, depth: depth + 1).map { "\(name)/\($0)" }
            case S_IFREG: return [name]
            default: return []
            }
        }
    }

    /// `value`'s stored properties as dotted paths to their values (enum cases by name,
    /// arrays by index, dictionaries by sorted key); model fields become the model's identity.
    private static func flatten(_ value: Any, at path: String, into parts: inout [String: String],
                                model: (String) -> String) {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first { flatten(wrapped.value, at: path, into: &parts, model: model) }
            else { parts[path] = "none" }
        case .collection:
            if mirror.children.isEmpty { parts[path] = "empty" }
            for (index, child) in mirror.children.enumerated() {
                flatten(child.value, at: "\(path).\(index)", into: &parts, model: model)
            }
        case .set, .dictionary:
            parts[path] = mirror.children.map { "\($0.value)" }.sorted().joined(separator: ", ")
        case .struct, .class, .enum, .tuple:
            guard !mirror.children.isEmpty else {
                parts[path] = "\(value)"
                return
            }
            for (index, child) in mirror.children.enumerated() {
                flatten(child.value, at: "\(path).\(child.label ?? "\(index)")", into: &parts, model: model)
            }
        default:
            let field = path.split(separator: ".").last.map(String.init) ?? path
            if let text = value as? String, modelFields.contains(field) { parts[path] = model(text) }
            else { parts[path] = "\(value)" }
        }
    }

    /// A value as it fits in one line of a message.
    private static func shown(_ value: String) -> String {
        let flat = value.replacingOccurrences(of: "\n", with: "\\n")
        return flat.count > 40 ? String(flat.prefix(40)) + "..." : flat
    }
}
