import FileAccess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shell-style glob over `/`-separated relative paths: `*`, `?` and `[...]` within a
/// component, `**` for any number of folders, and bash's braces (`*.{png,jpg}`, nested too).
/// Matching ignores case, since cameras write `IMG_0001.JPG` and recipes say `*.jpg`.
struct Glob: Sendable {
    let pattern: String
    /// The components of each brace alternative.
    private let alternatives: [[String]]

    /// More alternatives than this are refused (`{a,b}` repeated doubles them each time).
    static let maximumAlternatives = 256

    init(_ pattern: String) {
        self.pattern = pattern
        alternatives = Self.expandingBraces(pattern).map {
            $0.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        }
    }

    /// Why `pattern` can match no path the walk lists, or nil: for the first of its brace
    /// alternatives that cannot (`problem(alternative:)`), or when it has too many of them.
    static func problem(_ pattern: String) -> String? {
        let alternatives = expandingBraces(pattern)
        if alternatives.count > maximumAlternatives {
            return "its braces expand to more than \(maximumAlternatives) patterns"
        }
        for alternative in alternatives {
            if let problem = problem(alternative: alternative) {
                return alternatives.count == 1 ? problem : "'\(alternative)': \(problem)"
            }
        }
        return nil
    }

    /// bash's brace expansion: the first `{...}` holding a comma at its own depth becomes one
    /// pattern per alternative, each expanded again; braces with no comma stay as written.
    /// Stops growing past `maximumAlternatives` (the count still shows it went over).
    static func expandingBraces(_ pattern: String) -> [String] {
        let characters = Array(pattern)
        var start = 0
        while let open = characters[start...].firstIndex(of: "{") {
            var depth = 0, commas: [Int] = [], close: Int?
            for index in open..<characters.count {
                switch characters[index] {
                case "{": depth += 1
                case "}": depth -= 1
                case "," where depth == 1: commas.append(index)
                default: break
                }
                if depth == 0 { close = index; break }
            }
            guard let close else { return [pattern] }
            guard !commas.isEmpty else {
                start = open + 1
                continue
            }
            let (prefix, suffix) = (String(characters[..<open]), String(characters[(close + 1)...]))
            let bounds = [open] + commas + [close]
            var expanded: [String] = []
            for (from, to) in zip(bounds, bounds.dropFirst()) {
                guard expanded.count <= maximumAlternatives else { break }
                expanded += expandingBraces(prefix + String(characters[(from + 1)..<to]) + suffix)
            }
            return expanded
        }
        return [pattern]
    }

    /// Why one brace-free pattern can match no path the walk lists, or nil. The walk lists
    /// relative paths without `.` or `..`; a last component with no wildcard and no extension
    /// matches only a file of exactly that name (`images: 5` reads as the glob '5').
    private static func problem(alternative pattern: String) -> String? {
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = parts.last else { return "an empty glob matches nothing" }
        if pattern.hasPrefix("/") { return "globs are relative to --input; an absolute one matches nothing" }
        if parts.contains(where: { $0 == "." || $0 == ".." }) {
            return "'.' and '..' match nothing: globs are relative to --input and stay inside it"
        }
        if let part = parts.first(where: { $0.contains("[") && !$0.contains("]") }) {
            return "'[' without ']' in '\(part)'"
        }
        if !last.contains(where: { "*?[".contains($0) }) && !last.contains(".") {
            return "matches only a file named exactly '\(last)', with no extension; images are matched by patterns such as '*.png'"
        }
        return nil
    }

    func matches(_ relativePath: String) -> Bool {
        let parts = relativePath.split(separator: "/").map(String.init)
        return alternatives.contains { match($0[...], parts[...]) }
    }

    private func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            return (0...path.count).contains { match(rest, path.dropFirst($0)) }
        }
        guard let name = path.first, Self.componentMatches(head, name) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    private static func componentMatches(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, FNM_PERIOD | gnuCaseFold) == 0
    }

    /// glibc's FNM_CASEFOLD, a GNU extension the Swift overlay does not import.
    private static let gnuCaseFold: Int32 = 1 << 4
}

/// A file the walk found: a path relative to the root, and why it cannot be read as an
/// image when it is not a regular file.
struct ListedFile: Equatable {
    var path: String
    /// `RegularFile`'s reason: a dangling symbolic link, a link loop, a FIFO, a socket, a device.
    var problem: String?
}

/// Lists the files under `root` as sorted `/`-separated relative paths. Hidden entries and
/// symlinked folders (which could loop) are skipped, and so is `excluding` (the output folder
/// when it lies inside the input). Entries that are not regular files once links are followed
/// are listed with their problem, so that a glob matching one reports it instead of skipping
/// it in silence.
func listFiles(under root: URL, excluding excluded: URL?) throws -> [ListedFile] {
    let fileManager = FileManager.default
    let excludedPath = excluded?.resolvingSymlinksInPath().path
    var found: [ListedFile] = []
    var pending: [(url: URL, relative: String)] = [(root, "")]
    while let (folder, relative) = pending.popLast() {
        for name in try fileManager.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            let path = relative.isEmpty ? name : "\(relative)/\(name)"
            var entry = stat(), target = stat()
            guard lstat(url.path, &entry) == 0 else { continue }
            let isLink = entry.st_mode & S_IFMT == S_IFLNK
            let followed = isLink ? stat(url.path, &target) == 0 : true
            let kind = (isLink ? target : entry).st_mode & S_IFMT
            if followed && kind == S_IFDIR {
                guard !isLink, url.resolvingSymlinksInPath().path != excludedPath else { continue }
                pending.append((url, path))
            } else {
                found.append(ListedFile(path: path, problem: followed && kind == S_IFREG ? nil : notRegularReason(url.path)))
            }
        }
    }
    return found.sorted { $0.path < $1.path }
}

/// Why `RegularFile` refuses `path`, or nil when it is a regular file (it neither opens nor
/// blocks on what it refuses).
func notRegularReason(_ path: String) -> String? {
    do {
        close(try RegularFile.open(path))
        return nil
    } catch {
        return error.reason
    }
}
