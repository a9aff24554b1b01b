import Foundation
import Recipes
#if canImport(Glibc)
import Glibc
#endif

/// Keeps a batch from writing over what it reads (RECIPES.md: no output over an input image,
/// mask, control map or sidecar, whatever the flags).
///
/// Paths are compared after following symbolic links, so `--output` given as the input
/// folder, a link to it, or an output file that is a link to an input are all caught before
/// anything runs. Outputs written into the input tree are refused, too, where the next run's
/// globs would take them for photos to edit.
struct InputProtection {
    let inputRoot: String
    let outputRoot: String
    /// Resolved absolute path -> what it is ("input image a.png", "mask masks/a.png").
    let protected: [String: String]

    /// `images`: every image the globs matched, in any shard (another shard's photo is no
    /// less an input), with their sidecars whether they exist or not (a file written there
    /// would be read as one).
    init(input: URL, output: URL, recipe: Recipe, images: [String]) throws(BatchError) {
        inputRoot = Self.resolved(input.path)
        outputRoot = Self.resolved(output.path)
        var protected: [String: String] = [:]
        for image in images {
            protected[Self.resolved(input.appendingPathComponent(image).path)] = "input image \(image)"
            for sidecar in try Sidecar.all(of: image, recipe: recipe) {
                let path = Self.resolved(input.appendingPathComponent(sidecar.path).path)
                protected[path] = protected[path] ?? "\(sidecar.kind.rawValue) \(sidecar.path)"
            }
        }
        self.protected = protected
    }

    /// Refuses the plan when a job's output resolves to a protected file, or lands inside
    /// `--input` where one of `globs` would match it (unless the folder is one the walk
    /// skips: the output folder itself, when it lies inside the input, or a hidden one).
    func check(_ jobs: [Job], nextRunMatches globs: [Glob]) throws(BatchError) {
        var refusals: [String] = []
        for job in jobs {
            let destination = Self.resolved(outputRoot + "/" + job.output)
            if let input = protected[destination] {
                refusals.append("\(job.input): output \(job.output) would overwrite the \(input); write to another --output")
            } else if let relative = nextRunInput(destination), let glob = globs.first(where: { $0.matches(relative) }) {
                refusals.append("\(job.input): output \(job.output) would be \(relative) under --input, which match.images '\(glob.pattern)' takes as an input on the next run; write to another --output or use an output.path no glob matches")
            }
        }
        guard let first = refusals.first else { return }
        let more = refusals.count > 1 ? " (and \(refusals.count - 1) more outputs like it)" : ""
        throw .outputOverInput(first + more)
    }

    /// `destination` relative to `--input`, when the next run's walk would find it there.
    private func nextRunInput(_ destination: String) -> String? {
        guard let relative = Self.relative(destination, under: inputRoot) else { return nil }
        // The walk skips the output folder when it lies inside the input, and hidden entries.
        if outputRoot != inputRoot, Self.relative(destination, under: outputRoot) != nil { return nil }
        if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { return nil }
        return relative
    }

    /// Why the `--input`-relative `path` is outside `--input` once links are followed (a
    /// sidecar that is, or sits in a folder that is, a link elsewhere), or nil.
    static func escapeThroughLinks(_ path: String, input: URL) -> String? {
        let root = resolved(input.path)
        let target = resolved(input.appendingPathComponent(path).path)
        return relative(target, under: root) == nil ? "leads outside --input (to \(target))" : nil
    }

    /// `path` (relative, `/`-separated) with `.` and `..` resolved, or nil when `..` climbs
    /// above its start.
    static func lexicallyInside(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard parts.popLast() != nil else { return nil }
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// `path` below `root` (both resolved and absolute), or nil when it is not inside it.
    static func relative(_ path: String, under root: String) -> String? {
        if path == root { return "" }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : nil
    }

    /// The absolute `path` with every symbolic link followed, for a path that may not exist
    /// yet: its deepest existing ancestor is resolved and the rest appended.
    static func resolved(_ path: String) -> String {
        var pending: [String] = []
        var current = URL(fileURLWithPath: path).standardizedFileURL
        while true {
            if let real = realpath(current.path, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return pending.reversed().reduce(base) { $0 == "/" ? "/" + $1 : $0 + "/" + $1 }
            }
            let parent = current.deletingLastPathComponent()
            guard parent.path != current.path else { return path }
            pending.append(current.lastPathComponent)
            current = parent
        }
    }
}
