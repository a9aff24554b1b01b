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

    public init(recipe: Recipe, input: URL, output: URL, seed: UInt64, shard: Shard?) throws(BatchError) {
        self.recipe = recipe
        self.inputRoot = input.standardizedFileURL
        self.outputRoot = output.standardizedFileURL
        let files: [String]
        do {
            files = try listFiles(under: inputRoot, excluding: outputRoot)
        } catch {
            throw .unreadableInput(path: input.path, reason: error.localizedDescription)
        }
        let globs = recipe.match.images.map(Glob.init)
        let candidates = files.filter { path in globs.contains { $0.matches(path) } }
        let sidecars = Self.sidecarPaths(of: candidates, recipe: recipe)
        let images = candidates.filter { !sidecars.contains($0) && (shard?.contains($0) ?? true) }
        var claimed: [String: String] = [:]
        let root = inputRoot
        jobs = images.map { path in
            var job = Self.job(for: path, recipe: recipe, input: root, seed: seed)
            if job.problem == nil, let owner = claimed[job.output] {
                job.problem = "\(path): output \(job.output) is also the output of \(owner)"
            }
            claimed[job.output] = claimed[job.output] ?? path
            return job
        }
    }

    /// Mask, control and prompt files of matched images are not images to edit themselves.
    private static func sidecarPaths(of images: [String], recipe: Recipe) -> Set<String> {
        let templates = [recipe.match.mask, recipe.match.control, recipe.match.prompt].compactMap { $0 }
        return Set(images.flatMap { path in templates.map { normalized($0.expand(forImageAt: path)) } })
    }

    private static func job(for path: String, recipe: Recipe, input: URL, seed: UInt64) -> Job {
        var problems: [String] = []
        func sidecar(_ template: Template?, required: Bool, kind: String) -> String? {
            guard let template else { return nil }
            let relative = normalized(template.expand(forImageAt: path))
            if FileManager.default.fileExists(atPath: input.appendingPathComponent(relative).path) { return relative }
            if required { problems.append("missing \(kind) \(relative)") }
            return nil
        }
        let mask = sidecar(recipe.match.mask, required: recipe.needsMask, kind: "mask")
        let control = sidecar(recipe.match.control, required: recipe.needsControlFile, kind: "control map")
        var prompt: String?
        if let promptFile = sidecar(recipe.match.prompt, required: false, kind: "prompt") {
            do {
                prompt = try String(contentsOf: input.appendingPathComponent(promptFile), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
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
