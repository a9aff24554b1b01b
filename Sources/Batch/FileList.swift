import Foundation

/// The images `--files-from FILE|-` names, one path per line, instead of `match.images`, so
/// that GNU parallel, xargs or Spark's `RDD.pipe` can hand a run its share.
///
/// Paths are relative to `--input` (an absolute path inside `--input` is taken as the same
/// path relative to it); blank lines are skipped, `\r\n` endings are fine, repeats are ignored.
/// A path that leads outside `--input` or names nothing refuses the whole list, naming its
/// line: a list is an argument, and a wrong argument runs nothing.
public struct FileList: Sendable, Equatable {
    /// Where the list came from, for messages: its path, or "standard input".
    public let source: String
    public let lines: [String]

    public init(source: String, text: String) {
        self.source = source
        // `\r\n` is one Character, and a newline, as is `\n`.
        lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
    }

    /// The list in the file at `argument`, or on standard input for `-`. A pipe works
    /// (`--files-from <(find ...)`), so the file is read as a stream.
    public static func read(_ argument: String) throws(BatchError) -> FileList {
        if argument == "-" {
            return FileList(source: "standard input", text: String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self))
        }
        guard let handle = FileHandle(forReadingAtPath: argument) else {
            throw .badFileList("\(argument): cannot read the --files-from list")
        }
        defer { try? handle.close() }
        return FileList(source: argument, text: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
    }

    /// The listed files as the walk would list them, relative to `input`, in list order.
    func files(under input: URL) throws(BatchError) -> [ListedFile] {
        let root = input.standardizedFileURL.path
        var seen = Set<String>()
        var files: [ListedFile] = []
        for (index, line) in lines.enumerated() where !line.isEmpty {
            let located = "\(source):\(index + 1): \(line)"
            let relative = line.hasPrefix("/")
                ? InputProtection.relative(URL(fileURLWithPath: line).standardizedFileURL.path, under: root)
                    .flatMap(InputProtection.lexicallyInside)
                : InputProtection.lexicallyInside(line)
            guard let path = relative, !path.isEmpty else {
                throw .badFileList("\(located): outside --input \(root); list paths relative to it")
            }
            var status = stat()
            guard lstat(input.appendingPathComponent(path).path, &status) == 0 else {
                throw .badFileList("\(located): no such file in --input \(root)")
            }
            guard seen.insert(path).inserted else { continue }
            files.append(ListedFile(path: path, problem: notRegularReason(input.appendingPathComponent(path).path)))
        }
        return files
    }
}
