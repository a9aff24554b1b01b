import Foundation

/// Writes into `--output` safely: each file goes to a temporary name beside its final place
/// and is renamed into place once complete and synced, so a killed run never leaves a
/// partial image; folders reached through symlinks are refused.
struct OutputFolder {
    static let temporaryMarker = ".overpaint-tmp-"
    let root: URL
    private let resolvedRoot: String

    init(root: URL) throws(BatchError) {
        self.root = root
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw .unwritableOutput(path: root.path, reason: error.localizedDescription)
        }
        resolvedRoot = root.resolvingSymlinksInPath().path
    }

    func url(for relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Creates the folder for `relative` and checks that it really lies inside the root.
    func prepareFolder(for relative: String) throws -> URL {
        let destination = url(for: relative)
        let folder = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let resolved = folder.resolvingSymlinksInPath().path
        guard resolved == resolvedRoot || resolved.hasPrefix(resolvedRoot + "/") else {
            throw BatchError.image("output \(relative) would be written through a symlink to \(resolved), outside the output folder")
        }
        return destination
    }

    /// Runs `produce` on a temporary path, then syncs and renames it to `relative`.
    func writeAtomically(_ relative: String, produce: (URL) throws -> Void) throws {
        let destination = try prepareFolder(for: relative)
        let temporary = destination.deletingLastPathComponent().appendingPathComponent(
            "\(Self.temporaryMarker)\(Self.ownerTag)-\(destination.lastPathComponent)")
        do {
            try produce(temporary)
            try Self.sync(temporary)
            guard rename(temporary.path, destination.path) == 0 else {
                throw BatchError.unwritableOutput(path: destination.path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Removes temporary files that a killed run of this host left behind; those of live
    /// processes (another shard writing here) are left alone.
    func removeStaleTemporaries() {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return }
        let prefix = Self.temporaryMarker + Self.hostName + "."
        for case let url as URL in walker where url.lastPathComponent.hasPrefix(prefix) {
            let rest = url.lastPathComponent.dropFirst(prefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(at: url) }
        }
    }

    private static let hostName = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "-", with: "_")
    private static var ownerTag: String { "\(hostName).\(getpid())" }

    private static func sync(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw BatchError.unwritableOutput(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        fsync(descriptor)
    }
}
