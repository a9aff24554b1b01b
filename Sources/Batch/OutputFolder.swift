import Foundation

/// Writes into `--output` safely: each file goes to a temporary name beside its final place
/// and is renamed into place once complete and synced, so a killed run never leaves a
/// partial image; a folder that is a symlink leading outside `--output` is refused.
struct OutputFolder {
    static let temporaryMarker = TemporaryFiles.marker
    let root: URL
    /// `root` with its symlinks resolved once, when the run starts; every file is written
    /// below it, through folders checked one by one.
    let resolvedRoot: URL
    /// This run's temporary files, listed so that only they are ever swept.
    let temporaries: TemporaryFiles

    init(root: URL, shard: Shard?) throws(BatchError) {
        self.root = root
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw .unwritableOutput(path: root.path, reason: error.localizedDescription)
        }
        resolvedRoot = URL(fileURLWithPath: root.resolvingSymlinksInPath().path, isDirectory: true)
        temporaries = TemporaryFiles(root: resolvedRoot, shard: shard)
    }

    func url(for relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Creates the folders for `relative` one at a time, refusing before it creates anything
    /// a folder that is a symlink leading outside the output folder (or not a folder at all).
    func prepareFolder(for relative: String) throws -> URL {
        let parts = relative.split(separator: "/").map(String.init)
        var folder = resolvedRoot.path
        for part in parts.dropLast() {
            folder = try enter(part, of: folder, relative: relative)
        }
        return URL(fileURLWithPath: folder).appendingPathComponent(parts.last ?? relative)
    }

    /// The folder `part` of `folder`, created when missing; a symlink is followed only when
    /// it stays inside the output folder.
    private func enter(_ part: String, of folder: String, relative: String) throws -> String {
        let path = folder + "/" + part
        var status = stat()
        if lstat(path, &status) != 0 {
            guard errno == ENOENT, mkdir(path, 0o755) == 0 || errno == EEXIST, lstat(path, &status) == 0 else {
                throw BatchError.unwritableOutput(path: path, reason: String(cString: strerror(errno)))
            }
        }
        switch status.st_mode & S_IFMT {
        case S_IFDIR:
            return path
        case S_IFLNK:
            let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            var isFolder: ObjCBool = false
            guard target == resolvedRoot.path || target.hasPrefix(resolvedRoot.path + "/") else {
                throw BatchError.image("output \(relative) would be written through a symlink to \(target), outside the output folder")
            }
            guard FileManager.default.fileExists(atPath: target, isDirectory: &isFolder), isFolder.boolValue else {
                throw BatchError.image("output \(relative): \(part) is a symlink to \(target), which is not a folder")
            }
            return target
        default:
            throw BatchError.image("output \(relative): \(path) exists and is not a folder")
        }
    }

    /// Runs `produce` on a temporary path, then syncs and renames it to `relative`.
    func writeAtomically(_ relative: String, produce: (URL) throws -> Void) throws {
        let destination = try prepareFolder(for: relative)
        let temporary = try temporaries.make(in: destination.deletingLastPathComponent())
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

    private static func sync(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw BatchError.unwritableOutput(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        fsync(descriptor)
    }
}
