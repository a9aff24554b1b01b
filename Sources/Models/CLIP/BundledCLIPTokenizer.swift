import Foundation

/// The CLIP BPE tokenizer shipped inside Overpaint, so that single-file checkpoints and random
/// models (which carry no `tokenizer/` folder) need no download.
///
/// Only `merges.txt` (OpenAI CLIP's `bpe_simple_vocab_16e6`, MIT) is bundled; the vocabulary is
/// derived from it exactly as CLIP's `SimpleTokenizer` builds it: the 256 byte symbols, the same
/// with `</w>`, each merge joined, then `<|startoftext|>` and `<|endoftext|>` (49408 ids).
extension CLIPTokenizer {
    /// The bundled tokenizer; SD 1.x pads with `<|endoftext|>`, SD 2.x with `!`.
    public static func bundled(padToken: String = endOfText, maxLength: Int = 77) throws -> CLIPTokenizer {
        let merges = try bundledMerges()
        return try CLIPTokenizer(vocabulary: vocabulary(merges: merges), merges: merges, padToken: padToken,
                                 maxLength: maxLength, path: try bundledMergesURL().path)
    }

    /// Where the bundled `merges.txt` is: in the `Overpaint_Models.resources` folder SwiftPM
    /// builds beside the executable (the CLI and the test runner alike). Looked up by hand
    /// rather than through `Bundle.module`, whose accessor traps when the folder is missing.
    public static func bundledMergesURL() throws -> URL {
        let relative = "Overpaint_Models.resources/clip-tokenizer/merges.txt"
        let folders = [Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent(),
                       Bundle.main.bundleURL]
        for folder in folders.compactMap({ $0 }) {
            let candidate = folder.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        throw ModelsError.missingFile(path: relative + " (keep that folder beside the overpaint binary)")
    }

    /// The bundled merges in rank order.
    public static func bundledMerges() throws -> [(String, String)] {
        try readMergeList(bundledMergesURL())
    }

    /// CLIP's vocabulary for a merge list: byte symbols in `bytes_to_unicode` order (printable
    /// bytes first, then the rest), the same with `</w>`, the merges joined, the two specials.
    public static func vocabulary(merges: [(String, String)]) -> [String: Int] {
        let printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        let printableSet = Set(printable)
        let byteOrder = printable + (0 ... 255).filter { !printableSet.contains($0) }
        let symbols = byteOrder.map { byteSymbols[$0] }
        let tokens = symbols + symbols.map { $0 + "</w>" } + merges.map { $0.0 + $0.1 } + [startOfText, endOfText]
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { vocabulary[token] = id }
        return vocabulary
    }

    /// `merges.txt`: an optional `#version` line, then one `left right` pair per line.
    static func readMergeList(_ url: URL) throws -> [(String, String)] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ModelsError.badConfig(path: url.path, detail: "cannot read (\(error.localizedDescription))")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(49_000)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw ModelsError.badConfig(path: url.path, detail: "line \(number + 1) is not two symbols")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }
}
