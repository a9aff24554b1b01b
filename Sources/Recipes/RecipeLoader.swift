import Adapters
import Foundation
import Weights
import Yams

/// Reads and validates recipe files (RECIPES.md), reporting every problem with its
/// line, column and key path.
public struct RecipeLoader: Sendable {
    public var environment: [String: String]
    /// Replaces the recipe's top-level `model` (the CLI's `--model`).
    public var modelOverride: String?
    /// Whether model paths must exist (off for tests of the syntax alone).
    public var checkFiles: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                modelOverride: String? = nil, checkFiles: Bool = true) {
        self.environment = environment
        self.modelOverride = modelOverride
        self.checkFiles = checkFiles
    }

    /// The `RECIPE` argument that reads the recipe from standard input; its relative paths
    /// resolve against the working directory, as a file's resolve against its folder.
    public static let standardInput = "-"

    /// The recipe a command-line argument names: a file, or standard input for `-`.
    public func load(argument: String) throws(RecipeError) -> Recipe {
        guard argument == Self.standardInput else { return try load(URL(fileURLWithPath: argument)) }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: Recipe.standardInputName, reason: "cannot read recipe: it is not UTF-8 text")
        }
        let workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return try parse(text, source: workingDirectory.appendingPathComponent(Self.standardInput))
    }

    public func load(_ url: URL) throws(RecipeError) -> Recipe {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw .unreadable(path: url.path, reason: "cannot read recipe: \(error.localizedDescription)")
        }
        return try parse(text, source: url)
    }

    public func parse(_ text: String, source: URL) throws(RecipeError) -> Recipe {
        let name = Recipe.name(of: source)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                throw RecipeError.invalid(path: name, issues: [
                    RecipeIssue(line: 1, column: 1, keyPath: "", message: "the recipe is empty")])
            }
            root = composed
        } catch let error as RecipeError {
            throw error
        } catch {
            throw .invalid(path: name, issues: [Self.issue(fromYAMLError: error, in: text)])
        }
        let diagnostics = Diagnostics()
        let reader = RecipeReader(source: source, loader: self, diagnostics: diagnostics)
        let recipe = reader.read(root)
        guard diagnostics.issues.isEmpty, let recipe else {
            throw .invalid(path: name, issues: diagnostics.issues)
        }
        return recipe
    }

    /// One located line for what libyaml or Yams refused; their own descriptions quote the
    /// whole document over several lines, which a batch log or `validate` cannot show.
    private static func issue(fromYAMLError error: Error, in text: String) -> RecipeIssue {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return RecipeIssue(line: mark.line, column: mark.column, keyPath: "", message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().joined(separator: ", ")
            return RecipeIssue(line: context.mark.line, column: context.mark.column, keyPath: "",
                               message: "YAML syntax: a key given twice in this mapping: \(keys)")
        case .reader(let problem, let offset, _, _):
            let (line, column) = location(ofByte: offset ?? 0, in: text)
            return RecipeIssue(line: line, column: column, keyPath: "", message: "YAML syntax: \(problem)")
        default:
            let firstLine = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            return RecipeIssue(line: 1, column: 1, keyPath: "", message: "YAML syntax: \(firstLine)")
        }
    }

    /// The 1-based line and column of the UTF-8 byte at `offset`.
    private static func location(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        let before = Array(text.utf8.prefix(offset))
        let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let column = before.count - lineStart + 1
        return (line, column)
    }
}

/// Walks the YAML tree of one recipe into a `Recipe`.
struct RecipeReader {
    let source: URL
    let loader: RecipeLoader
    let diagnostics: Diagnostics

    /// What `seed` reads as when the recipe gives none (then 0 or `--seed`), below -1 (random).
    private static let unsetSeed = -2

    func read(_ root: Node) -> Recipe? {
        guard let top = MappingReader(root, path: "", diagnostics: diagnostics) else { return nil }
        let version = top.int("version", default: 1, in: 1...1)
        let description = top.string("description") ?? ""
        let recipeModel = top.string("model")
        let model = loader.modelOverride.map { resolveOverride($0) }
            ?? recipeModel.flatMap { resolvePath($0, at: top.value("model"), path: "model") }
        let seed = top.int("seed", default: Self.unsetSeed, in: -1...Int.max)
        let clipSkip = top.int("clip_skip", default: Edit.Generation().clipSkip, in: 1...Edit.Generation.maximumClipSkip)
        let loras = readLoRAs(top)
        let vae = readVAE(top)
        let vaeEncoder = readVAEEncoder(top, vae: vae)
        let embeddings = readEmbeddings(top)
        let match = readMatch(top)
        let output = readOutput(top)
        let edits = handingOver(readEdits(top, topLevelModel: model, topLevelClipSkip: clipSkip, promptTemplate: match?.prompt),
                                to: readRefiner(top), top: top)
        top.finish()
        guard let match, let output else { return nil }
        let recipe = Recipe(version: version, description: description, model: model,
                            seed: seed >= 0 ? UInt64(seed) : nil, seedIsRandom: seed == -1, match: match, output: output,
                            edits: edits, source: source, vae: vae, vaeEncoder: vaeEncoder, loras: loras, loraFolders: loraFolders,
                            embeddings: embeddings,
                            embeddingFolders: .embeddings(recipe: source, environment: loader.environment))
        checkSidecars(recipe, top: top)
        return recipe
    }

    var loraFolders: NamedFileFolders { .loras(recipe: source, environment: loader.environment) }

    /// `loras: [{path, weight}]`: each path resolved as `model` is and, when files are checked,
    /// opened as a LoRA / LyCORIS file (its keys read, no tensor data), so a file that is not one
    /// fails `validate`, not every image.
    private func readLoRAs(_ top: MappingReader) -> [Recipe.LoRA] {
        guard let items = top.sequence("loras") else { return [] }
        return items.enumerated().compactMap { index, item in
            let path = "loras[\(index)]"
            guard let entry = MappingReader(item, path: path, diagnostics: diagnostics) else { return nil }
            defer { entry.finish() }
            let weight = entry.double("weight", default: 1, in: -10...10)
            guard entry.required("path") != nil, let text = entry.string("path"),
                  let file = resolvePath(text, at: entry.value("path"), path: "\(path).path", what: "LoRA")
            else { return nil }
            checkAdapter(file, at: entry.value("path"), path: "\(path).path")
            return Recipe.LoRA(path: file, weight: weight)
        }
    }

    /// `embeddings: [paths]`: textual inversion files, each resolved as `model` is and, when files
    /// are checked, read (one embedding each; its stem is the token).
    private func readEmbeddings(_ top: MappingReader) -> [String] {
        guard let paths = top.strings("embeddings") else { return [] }
        return paths.enumerated().compactMap { index, text in
            let path = "embeddings[\(index)]"
            guard let file = resolvePath(text, at: top.value("embeddings"), path: path, what: "embedding") else { return nil }
            if loader.checkFiles, FileManager.default.fileExists(atPath: file) {
                do {
                    _ = try TextualInversion(url: URL(fileURLWithPath: file))
                } catch {
                    diagnostics.report(error.localizedDescription, at: top.value("embeddings"), path: path)
                }
            }
            return file
        }
    }

    /// `vae:`: a diffusers VAE folder (with its config.json) or a single `.safetensors` VAE, checked
    /// from its header when files are checked; or `taesd` / `taesdxl`, kept as the bare name that
    /// the run looks up in its model folders (`Recipe.tinyAutoencoderNames`).
    private func readVAE(_ top: MappingReader) -> String? {
        guard let text = top.string("vae") else { return nil }
        if Recipe.tinyAutoencoderNames.contains(text.lowercased()) { return text.lowercased() }
        guard let path = resolvePath(text, at: top.value("vae"), path: "vae", what: "VAE") else { return nil }
        var isFolder: ObjCBool = false
        guard loader.checkFiles, FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return path }
        if isFolder.boolValue {
            if !FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("config.json")) {
                diagnostics.report("\(path) is a folder without config.json, not a diffusers VAE", at: top.value("vae"), path: "vae")
            }
        } else {
            do {
                _ = try SingleFileVAE.source(SafeTensorsFile(url: URL(fileURLWithPath: path)))
            } catch {
                diagnostics.report(error.localizedDescription, at: top.value("vae"), path: "vae")
            }
        }
        return path
    }

    /// `vae_encoder: full | tiny`, which chooses between a tiny `vae:` and the model's own VAE
    /// (whether a folder given by path is a tiny one is checked where it loads, and `validate`
    /// loads every model).
    private func readVAEEncoder(_ top: MappingReader, vae: String?) -> Recipe.VAEEncoder? {
        guard let node = top.value("vae_encoder") else { return nil }
        if vae == nil {
            diagnostics.report("vae_encoder needs a tiny autoencoder as vae (taesd, taesdxl or an AutoencoderTiny folder)",
                               at: node, path: "vae_encoder")
        }
        return top.choice("vae_encoder", default: Recipe.VAEEncoder.tiny)
    }

    /// Reports `file` when files are checked and it is not a LoRA / LyCORIS file.
    func checkAdapter(_ file: String, at node: Node?, path: String) {
        guard loader.checkFiles, FileManager.default.fileExists(atPath: file) else { return }
        do {
            _ = try AdapterFile(url: URL(fileURLWithPath: file))
        } catch {
            diagnostics.report(error.localizedDescription, at: node, path: path)
        }
    }

    /// `match.images` when the recipe names none: photos as cameras and phones write them.
    static let defaultImageGlobs = ["*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff", "*.webp", "*.bmp", "*.heic", "*.heif", "*.avif"]

    private func readMatch(_ top: MappingReader) -> Recipe.Match? {
        guard let match = top.mapping("match") else {
            return Recipe.Match(images: Self.defaultImageGlobs)
        }
        let images = match.strings("images") ?? Self.defaultImageGlobs
        if images.isEmpty {
            diagnostics.report("needs at least one glob", at: match.value("images"), path: "match.images")
        }
        let result = Recipe.Match(images: images,
                                  mask: template(match, "mask"),
                                  control: template(match, "control"),
                                  prompt: template(match, "prompt"))
        match.finish()
        return result
    }

    private func readOutput(_ top: MappingReader) -> Recipe.Output? {
        let output = top.mapping("output")
        let path = output.flatMap { template($0, "path") } ?? (try? Template("{dir}/{stem}.png"))
        let format: OutputFormat? = output.flatMap { reader in
            reader.value("format") == nil ? nil : reader.choice("format", default: OutputFormat.png)
        }
        let quality = output?.int("quality", default: 95, in: 1...100) ?? 95
        let metadata = output?.choice("metadata", default: OutputMetadata.keep) ?? .keep
        output?.finish()
        guard let path else { return nil }
        if format == nil, OutputFormat(extension: (path.description as NSString).pathExtension) == nil {
            diagnostics.report("cannot tell the image format from '\(path)'; end it in .png, .jpg, .tiff or .webp or set output.format",
                               at: output?.value("path"), path: "output.path")
        }
        return Recipe.Output(path: path, format: format, quality: quality, metadata: metadata)
    }

    private func template(_ reader: MappingReader, _ key: String) -> Template? {
        guard let text = reader.string(key) else { return nil }
        do {
            return try Template(text)
        } catch {
            diagnostics.report(error.description, at: reader.value(key), path: reader.childPath(key))
            return nil
        }
    }

    private func readEdits(_ top: MappingReader, topLevelModel: String?, topLevelClipSkip: Int,
                           promptTemplate: Template?) -> [Edit] {
        guard let items = top.sequence("edits") else {
            diagnostics.report("missing required key 'edits'", at: top.node, path: "")
            return []
        }
        if items.isEmpty { diagnostics.report("needs at least one edit", at: top.value("edits"), path: "edits") }
        return items.enumerated().compactMap { index, item in
            EditReader(recipe: self, path: "edits[\(index)]", topLevelModel: topLevelModel,
                       topLevelClipSkip: topLevelClipSkip, promptTemplate: promptTemplate).read(item)
        }
    }

    /// `refiner:`, `refiner_switch:` and the refiner's aesthetic scores; any of those without a
    /// refiner is reported.
    private func readRefiner(_ top: MappingReader) -> Edit.Refiner? {
        let switchAt = top.double("refiner_switch", default: Edit.Refiner.defaultSwitch, in: 0...1) { share in
            share > 0 && share < 1 ? nil : "must be strictly between 0 and 1 (the share of the schedule the base runs)"
        }
        let scores = (positive: top.double("aesthetic_score", default: Edit.Refiner.defaultScores.positive, in: 0...10),
                      negative: top.double("negative_aesthetic_score", default: Edit.Refiner.defaultScores.negative, in: 0...10))
        guard let text = top.string("refiner") else {
            for key in ["refiner_switch", "aesthetic_score", "negative_aesthetic_score"] where top.value(key) != nil {
                diagnostics.report("\(key) needs refiner", at: top.value(key), path: key)
            }
            return nil
        }
        guard let path = resolvePath(text, at: top.value("refiner"), path: "refiner", what: "refiner") else { return nil }
        return Edit.Refiner(model: path, switchAt: switchAt, aestheticScore: scores.positive,
                            negativeAestheticScore: scores.negative)
    }

    /// `edits` with the refiner on every img2img and inpaint edit; diffusers hands over only from
    /// its SDXL img2img and inpaint pipelines, so edit and ControlNet edits beside a refiner are
    /// reported.
    private func handingOver(_ edits: [Edit], to refiner: Edit.Refiner?, top: MappingReader) -> [Edit] {
        guard let refiner else { return edits }
        var handsOver = false, refused = false
        let result = edits.enumerated().map { index, edit -> Edit in
            let problem: String?
            switch edit {
            case .img2img(var generation) where generation.control.isEmpty:
                generation.refiner = refiner
                handsOver = true
                return .img2img(generation)
            case .inpaint(var inpaint) where inpaint.generation.control.isEmpty:
                inpaint.generation.refiner = refiner
                handsOver = true
                return .inpaint(inpaint)
            case .img2img, .inpaint: problem = "an \(edit.name) edit with control"
            case .edit: problem = "an edit (DDIM inversion)"
            default: problem = nil
            }
            if let problem {
                refused = true
                diagnostics.report("edits[\(index)] is \(problem); only img2img and inpaint edits without control hand over to a refiner",
                                   at: top.value("refiner"), path: "refiner")
            }
            return edit
        }
        if !handsOver && !refused {
            diagnostics.report("no img2img or inpaint edit to hand over to the refiner", at: top.value("refiner"), path: "refiner")
        }
        return result
    }

    private func checkSidecars(_ recipe: Recipe, top: MappingReader) {
        for (index, edit) in recipe.edits.enumerated() {
            if edit.needsMask && recipe.match.mask == nil {
                diagnostics.report("'\(edit.name)' needs masks, but match.mask gives no mask template",
                                   at: top.value("edits"), path: "edits[\(index)].\(edit.name)")
            }
            if edit.needsControlFile && recipe.match.control == nil {
                diagnostics.report("a depth control with source: file needs match.control",
                                   at: top.value("edits"), path: "edits[\(index)].\(edit.name).control")
            }
        }
    }

    /// Expands `${ENV}` and makes `text` absolute against the recipe's folder; reports an
    /// unset variable, and a missing file when files are checked.
    func resolvePath(_ text: String, at node: Node?, path: String, what: String = "model") -> String? {
        guard let expanded = expandEnvironment(text, at: node, path: path) else { return nil }
        let absolute = expanded.hasPrefix("/") ? expanded
            : source.deletingLastPathComponent().appendingPathComponent(expanded).standardizedFileURL.path
        if loader.checkFiles && !FileManager.default.fileExists(atPath: absolute) {
            diagnostics.report("no \(what) at \(absolute)", at: node, path: path)
        }
        return absolute
    }

    private func resolveOverride(_ text: String) -> String {
        let absolute = URL(fileURLWithPath: text).standardizedFileURL.path
        if loader.checkFiles && !FileManager.default.fileExists(atPath: absolute) {
            diagnostics.report("no model at \(absolute)", at: nil, path: "--model")
        }
        return absolute
    }

    private func expandEnvironment(_ text: String, at node: Node?, path: String) -> String? {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                diagnostics.report("unterminated ${ in '\(text)'", at: node, path: path)
                return nil
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = loader.environment[name] else {
                diagnostics.report("environment variable \(name) is not set", at: node, path: path)
                return nil
            }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
