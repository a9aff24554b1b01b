import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the files users name (images, masks, weights, model configs) only when they are
/// regular files, after following symbolic links.
///
/// Anything else fails at once with a one-line reason, before a read can misbehave: opening
/// a FIFO blocks until a writer appears, a device such as `/dev/zero` never ends, a socket
/// cannot be read at all, and a dangling link or a link loop would otherwise read as a
/// plain "no such file".
public enum RegularFile {
    /// A read-only, close-on-exec descriptor for the regular file at `path`; the caller
    /// closes it.
    public static func open(_ path: String) throws(RegularFileError) -> Int32 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw failure(path, errno) }
        try requireRegular(status, path)
        // Non-blocking, so a FIFO swapped in since stat cannot hang the open either.
        let descriptor = openNonBlocking(path)
        guard descriptor >= 0 else { throw failure(path, errno) }
        do throws(RegularFileError) {
            guard fstat(descriptor, &status) == 0 else { throw failure(path, errno) }
            try requireRegular(status, path)
        } catch {
            close(descriptor)
            throw error
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return descriptor
    }

    /// The whole regular file at `url`.
    public static func contents(of url: URL) throws(RegularFileError) -> Data {
        let path = url.path
        let descriptor = try open(path)
        defer { close(descriptor) }
        var status = stat()
        let expected = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
        // One byte more than the size, so that a file grown since fstat is still read to its end.
        var data = Data(count: max(expected, 0) + 1)
        var length = 0
        while true {
            if length == data.count { data.count *= 2 }
            let count = data.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + length, buffer.count - length)
            }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw RegularFileError(path: path, problem: .unreadable(String(cString: strerror(errno))))
            }
            length += count
        }
        data.count = length
        return data
    }

    private static func openNonBlocking(_ path: String) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        #else
        Darwin.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        #endif
    }

    private static func requireRegular(_ status: stat, _ path: String) throws(RegularFileError) {
        let kind: String
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: kind = "directory"
        case S_IFIFO: kind = "FIFO"
        case S_IFSOCK: kind = "socket"
        case S_IFCHR: kind = "character device"
        case S_IFBLK: kind = "block device"
        default: kind = "unknown type"
        }
        throw RegularFileError(path: path, problem: .notRegular(kind: kind))
    }

    private static func failure(_ path: String, _ code: Int32) -> RegularFileError {
        switch code {
        case ENOENT:
            // stat follows links; lstat tells a missing file from a link to a missing file.
            var link = stat()
            guard lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK else {
                return RegularFileError(path: path, problem: .missing)
            }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
            return RegularFileError(path: path, problem: .danglingLink(target: target))
        case ELOOP:
            return RegularFileError(path: path, problem: .linkLoop)
        default:
            return RegularFileError(path: path, problem: .unreadable(String(cString: strerror(code))))
        }
    }
}

/// Why `RegularFile` refused a path; the description is one line naming it.
public struct RegularFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// Nothing is at the path.
        case missing
        /// A FIFO, socket, device or directory (`kind` says which).
        case notRegular(kind: String)
        /// A symbolic link whose target does not exist.
        case danglingLink(target: String)
        /// Symbolic links that lead back to themselves.
        case linkLoop
        /// The system refused to open or read it (permissions, I/O): its reason.
        case unreadable(String)
    }

    public let path: String
    public let problem: Problem

    /// The problem in a few words, without the path.
    public var reason: String {
        switch problem {
        case .missing: "no such file"
        case let .notRegular(kind): "not a regular file (\(kind))"
        case let .danglingLink(target): "dangling symbolic link (to \(target), which does not exist)"
        case .linkLoop: "symbolic link loop"
        case let .unreadable(reason): reason
        }
    }

    public var description: String { "\(path): \(reason)" }
}
