import FileAccess
import Foundation
import Recipes

/// One image's work: where it comes from, its sidecars, where it goes. A job whose
/// sidecars are missing or whose output is unsafe carries the problem instead of failing
/// the plan, so the rest of the batch goes on.
public struct Job: Sendable, Equatable {
    /// Relative to `--input`, `/`-separated.
    public var input: String
    public var mask: String?
    public var control: String?
    /// Text of the prompt sidecar, when the recipe names one and it exists.
    public var prompt: String?
    /// Relative to `--output`.
    public var output: String
    public var seed: UInt64
    /// Why this image cannot be processed, found while planning.
    public var problem: String?
}

/// The whole batch, decided before any image is touched (what `--dry-run` prints).
public struct BatchPlan: Sendable {
    public static let reservedOutputs = ["manifest.jsonl", "report.html", "report"]

    public var recipe: Recipe
    public var inputRoot: URL
    public var outputRoot: URL
    public var jobs: [Job]

    /// Plans the batch over the images `match.images` matches, or those `list` names
    /// (`--files-from`), refusing it (nothing runs) when none is found, when an output would
    /// replace an input or land where the next run would take it for one, or when a sidecar
    /// template leaves `--input` or its folder is missing.
    public init(recipe: Recipe, input: URL, output: URL, seed: UInt64, shard: Shard?,
                list: FileList? = nil) throws(BatchError) {
        self.recipe = recipe
        self.inputRoot = input.standardizedFileURL
        self.outputRoot = output.standardizedFileURL
        try Self.checkSidecarFolders(recipe: recipe, input: inputRoot)
        let globs = recipe.match.images.map(Glob.init)
        let matchedFiles: [ListedFile]
        if let list {
            matchedFiles = try list.files(under: inputRoot)
        } else {
            do {
                matchedFiles = try listFiles(under: inputRoot, excluding: outputRoot)
                    .filter { file in globs.contains { $0.matches(file.path) } }
            } catch {
                throw .unreadableInput(path: input.path, reason: error.localizedDescription)
            }
        }
        let candidates = matchedFiles.map(\.path)
        let specialFiles = Dictionary(uniqueKeysWithValues: matchedFiles.compactMap { file in file.problem.map { (file.path, $0) } })
        let sidecars = try Self.sidecarPaths(of: candidates, recipe: recipe)
        let matched = candidates.filter { !sidecars.contains($0) }
        if matched.isEmpty, let list {
            throw .noImages("\(list.source): lists no images")
        } else if matched.isEmpty {
            let globs = recipe.match.images.map { "'\($0)'" }.joined(separator: ", ")
            throw .noImages("\(inputRoot.path): no images matched match.images \(globs)")
        }
        let images = matched.filter { shard?.contains($0) ?? true }
        var claimed: [String: String] = [:]
        let root = inputRoot
        jobs = try images.map { (path: String) throws(BatchError) -> Job in
            var job = try Self.job(for: path, recipe: recipe, input: root, seed: seed, notAFile: specialFiles[path])
            if job.problem == nil, let owner = claimed[job.output] {
                job.problem = "\(path): output \(job.output) is also the output of \(owner)"
            }
            claimed[job.output] = claimed[job.output] ?? path
            return job
        }
        let protection = try InputProtection(input: inputRoot, output: outputRoot, recipe: recipe, images: candidates)
        try protection.check(jobs, nextRunMatches: globs)
    }

    /// The folder a required mask or control template starts with (`masks` of
    /// `masks/{stem}.png`) must be in `--input`, or every image would fail alone.
    private static func checkSidecarFolders(recipe: Recipe, input: URL) throws(BatchError) {
        let required = [(Sidecar.Kind.mask, recipe.needsMask), (.control, recipe.needsControlFile)]
        for (kind, needed) in required where needed {
            // A template that leaves --input is refused as such (`Sidecar.all`).
            guard let template = kind.template(in: recipe), !template.description.hasPrefix("/") else { continue }
            let folders = template.description.split(separator: "/").dropLast().prefix { !$0.contains("{") }
            guard let folder = InputProtection.lexicallyInside(folders.joined(separator: "/")), !folder.isEmpty else { continue }
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: input.appendingPathComponent(folder).path, isDirectory: &isFolder)
                || !isFolder.boolValue {
                throw .missingSidecarFolder("\(input.path): no folder \(folder) for \(kind.key) '\(template)'")
            }
        }
    }

    /// Mask, control and prompt files of matched images are not images to edit themselves.
    private static func sidecarPaths(of images: [String], recipe: Recipe) throws(BatchError) -> Set<String> {
        var paths = Set<String>()
        for image in images {
            for sidecar in try Sidecar.all(of: image, recipe: recipe) { paths.insert(sidecar.path) }
        }
        return paths
    }

    /// `notAFile`: why the matched path is not a regular file (a FIFO, a dangling link...);
    /// such a job fails with that reason, its sidecars unread.
    private static func job(for path: String, recipe: Recipe, input: URL, seed: UInt64,
                            notAFile: String?) throws(BatchError) -> Job {
        var problems = notAFile.map { [$0] } ?? []
        let sidecars = notAFile == nil ? try Sidecar.all(of: path, recipe: recipe) : []
        func sidecar(_ kind: Sidecar.Kind, required: Bool) -> String? {
            guard let sidecar = sidecars.first(where: { $0.kind == kind }) else { return nil }
            if let escape = InputProtection.escapeThroughLinks(sidecar.path, input: input) {
                problems.append("\(kind.rawValue) \(sidecar.path) \(escape)")
                return nil
            }
            let file = input.appendingPathComponent(sidecar.path).path
            var status = stat()
            guard lstat(file, &status) == 0 else {
                if required { problems.append("missing \(kind.rawValue) \(sidecar.path)") }
                return nil
            }
            if let reason = notRegularReason(file) {
                problems.append("\(kind.rawValue) \(sidecar.path): \(reason)")
                return nil
            }
            return sidecar.path
        }
        let mask = sidecar(.mask, required: recipe.needsMask)
        let control = sidecar(.control, required: recipe.needsControlFile)
        var prompt: String?
        if let promptFile = sidecar(.prompt, required: false) {
            let data = try? RegularFile.contents(of: input.appendingPathComponent(promptFile))
            if let text = data.flatMap({ String(data: $0, encoding: .utf8) }) {
                prompt = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                problems.append("prompt file \(promptFile) is not readable UTF-8 text")
            }
        }
        let expanded = recipe.output.path.expand(forImageAt: path)
        if let unsafe = unsafeOutputReason(expanded) { problems.append(unsafe) }
        let output = normalized(expanded)
        return Job(input: path, mask: mask, control: control, prompt: prompt, output: output, seed: seed,
                   problem: problems.isEmpty ? nil : "\(path): " + problems.joined(separator: "; "))
    }

    /// Output paths stay inside `--output`: no absolute paths, no `..`, no clobbering the
    /// manifest or report. (Symlinked folders are refused when the file is written.)
    static func unsafeOutputReason(_ output: String) -> String? {
        let parts = normalized(output).split(separator: "/")
        if parts.isEmpty || output.hasPrefix("/") || parts.contains("..") {
            return "output path '\(output)' would leave the output folder"
        }
        if let first = parts.first, reservedOutputs.contains(String(first)) {
            return "output path '\(output)' would overwrite Overpaint's \(first)"
        }
        return nil
    }

    /// Collapses `a//b` and `./a` so equal paths compare equal.
    static func normalized(_ path: String) -> String {
        path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}

/// A file `match` names beside an image: its mask, control map or prompt.
struct Sidecar: Equatable {
    enum Kind: String, CaseIterable {
        case mask, control = "control map", prompt = "prompt sidecar"

        /// The recipe key of its template.
        var key: String {
            switch self {
            case .mask: "match.mask"
            case .control: "match.control"
            case .prompt: "match.prompt"
            }
        }

        func template(in recipe: Recipe) -> Template? {
            switch self {
            case .mask: recipe.match.mask
            case .control: recipe.match.control
            case .prompt: recipe.match.prompt
            }
        }
    }

    var kind: Kind
    /// Relative to `--input`, `/`-separated, with no `.` or `..`.
    var path: String

    /// The sidecars the recipe's templates name for `image`; a template that leads outside
    /// `--input` (an absolute path, or `..` past its top) refuses the plan.
    static func all(of image: String, recipe: Recipe) throws(BatchError) -> [Sidecar] {
        var sidecars: [Sidecar] = []
        for kind in Kind.allCases {
            guard let template = kind.template(in: recipe) else { continue }
            let expanded = template.expand(forImageAt: image)
            guard !expanded.hasPrefix("/"), let path = InputProtection.lexicallyInside(expanded) else {
                throw .outsideInput("\(kind.key) '\(template)' gives '\(expanded)' for \(image), outside --input; sidecar templates are relative to --input and stay inside it")
            }
            sidecars.append(Sidecar(kind: kind, path: path))
        }
        return sidecars
    }
}
