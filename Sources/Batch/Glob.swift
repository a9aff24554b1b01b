import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shell-style glob over `/`-separated relative paths: `*`, `?` and `[...]` within a
/// component, `**` for any number of folders. Matching ignores case, since cameras write
/// `IMG_0001.JPG` and recipes say `*.jpg`.
struct Glob: Sendable {
    let pattern: String
    private let components: [String]

    init(_ pattern: String) {
        self.pattern = pattern
        self.components = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    func matches(_ relativePath: String) -> Bool {
        let parts = relativePath.split(separator: "/").map(String.init)
        return match(components[...], parts[...])
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

/// Lists regular files under `root` as sorted `/`-separated relative paths. Hidden entries
/// and symlinked folders (which could loop) are skipped, and so is `excluding` (the output
/// folder when it lies inside the input).
func listFiles(under root: URL, excluding excluded: URL?) throws -> [String] {
    let fileManager = FileManager.default
    let excludedPath = excluded?.resolvingSymlinksInPath().path
    var found: [String] = []
    var pending: [(url: URL, relative: String)] = [(root, "")]
    while let (folder, relative) = pending.popLast() {
        for name in try fileManager.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            let path = relative.isEmpty ? name : "\(relative)/\(name)"
            let values = try? url.resourceValues(forKeys: [.isDirectoryKey, .isSymbolicLinkKey])
            if values?.isDirectory == true {
                guard values?.isSymbolicLink != true, url.resolvingSymlinksInPath().path != excludedPath else { continue }
                pending.append((url, path))
            } else if (try? url.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                found.append(path)
            }
        }
    }
    return found.sorted()
}
