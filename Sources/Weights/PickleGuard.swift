import FileAccess
import Foundation

/// Recognises pickle-based checkpoints so they can be refused before anything reads them.
///
/// Nothing is ever unpickled: unpickling runs code chosen by whoever made the file.
public enum PickleGuard {
    static let pickleExtensions: Set<String> = ["ckpt", "pt", "pth", "bin", "pkl", "pickle"]

    /// Whether the file name says pickle (torch.save writes .ckpt/.pt/.pth/.bin).
    public static func hasPickleExtension(_ url: URL) -> Bool {
        pickleExtensions.contains(url.pathExtension.lowercased())
    }

    /// Whether the first bytes are a zip archive (torch.save since 1.6) or a pickle stream
    /// (protocol byte 0x80 then protocol 2...5), and not the start of a safetensors header,
    /// whose JSON always begins at byte 8 with '{'.
    public static func looksLikePickle(_ prefix: some Collection<UInt8>) -> Bool {
        let bytes = Array(prefix.prefix(9))
        if bytes.count >= 9, bytes[8] == UInt8(ascii: "{") { return false }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return true }
        return bytes.count >= 2 && bytes[0] == 0x80 && (2 ... 5).contains(bytes[1])
    }

    /// Throws `pickleRefused` when the file is a pickle by name or by content. A path that
    /// is not a readable regular file passes: opening it for the weights says what is wrong.
    public static func refusePickle(_ url: URL) throws {
        if hasPickleExtension(url) { throw WeightsError.pickleRefused(path: url.path) }
        guard let descriptor = try? RegularFile.open(url.path) else { return }
        defer { close(descriptor) }
        var prefix = [UInt8](repeating: 0, count: 9)
        let count = read(descriptor, &prefix, prefix.count)
        if count > 0, looksLikePickle(prefix.prefix(count)) { throw WeightsError.pickleRefused(path: url.path) }
    }
}
