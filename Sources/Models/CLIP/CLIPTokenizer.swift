import Foundation

/// The CLIP byte-level BPE tokenizer.
///
/// This implementation matches transformers' `CLIPTokenizer` (tokenizers backend, transformers 5),
/// as used by diffusers' Stable Diffusion pipelines:
/// 1. the special tokens `<|startoftext|>` / `<|endoftext|>` are matched verbatim in the raw text;
/// 2. the rest is normalised: NFC, every whitespace run to one space, lowercase character by
///    character (no context, so a final Σ becomes σ, unlike Python's `str.lower`);
/// 3. split by `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` (whitespace dropped);
/// 4. each piece's UTF-8 bytes mapped to printable characters (GPT-2's `bytes_to_unicode`), the last
///    one marked with `</w>`, and merged by BPE rank;
/// 5. wrapped in `<|startoftext|>` ... `<|endoftext|>` and, for the model input, truncated to
///    `maxLength` (keeping the end token) and padded with the pad token.
///
/// Limitations: no ftfy text repair and no HTML unescaping (transformers does neither).
public struct CLIPTokenizer: Sendable {
    public static let startOfText = "<|startoftext|>"
    public static let endOfText = "<|endoftext|>"

    /// The text encoder's context length.
    public let maxLength: Int
    public let bosTokenID: Int
    public let eosTokenID: Int
    public let padTokenID: Int

    private let vocabulary: [String: Int]
    private let mergeRanks: [SymbolPair: Int]
    /// Tokens added beyond the vocabulary (textual inversion embeddings), each with the ids it
    /// stands for: one per vector, numbered from the vocabulary's size as transformers' `add_tokens` does.
    private var addedTokens: [(text: String, ids: [Int])] = []

    /// The id the next added token gets.
    public var nextTokenID: Int { vocabulary.count + addedTokens.reduce(0) { $0 + $1.ids.count } }

    /// This tokenizer with `token` added for an embedding of `vectors` vectors. As transformers'
    /// non-special added tokens it is matched anywhere in the text, in any case, before byte-pair
    /// encoding; it stands for all its vectors' ids (what diffusers' `maybe_convert_prompt` does
    /// by writing `token token_1 ...` into the prompt). Nil for a token of the vocabulary (or one
    /// added already), which diffusers' `load_textual_inversion` refuses.
    public func adding(_ token: String, vectors: Int) -> CLIPTokenizer? {
        guard vocabulary[token] == nil, !addedTokens.contains(where: { $0.text.lowercased() == token.lowercased() }),
              !token.isEmpty, vectors >= 1 else { return nil }
        var copy = self
        copy.addedTokens.append((token, Array(nextTokenID ..< nextTokenID + vectors)))
        return copy
    }

    private struct SymbolPair: Hashable, Sendable {
        let left: String
        let right: String
    }

    /// Loads `vocab.json` and `merges.txt` from a diffusers `tokenizer/` folder; the pad token comes
    /// from `tokenizer_config.json` or `special_tokens_map.json` (SD 1.x pads with `<|endoftext|>`,
    /// SD 2.x with `!`).
    public init(folder: URL, maxLength: Int = 77) throws {
        let ids = try decodeJSONFile([String: Int].self, from: folder.appendingPathComponent("vocab.json"))
        let merges = try Self.readMergeList(folder.appendingPathComponent("merges.txt"))
        let padToken = try Self.padToken(in: folder) ?? Self.endOfText
        try self.init(vocabulary: ids, merges: merges, padToken: padToken, maxLength: maxLength, path: folder.path)
    }

    /// A tokenizer from an in-memory vocabulary and merge list (merges in rank order).
    public init(
        vocabulary: [String: Int], merges: [(String, String)], padToken: String = endOfText,
        maxLength: Int = 77, path: String = "<memory>"
    ) throws {
        func id(_ token: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw ModelsError.badConfig(path: path, detail: "vocabulary has no token '\(token)'")
            }
            return id
        }
        bosTokenID = try id(Self.startOfText)
        eosTokenID = try id(Self.endOfText)
        padTokenID = try id(padToken)
        self.maxLength = maxLength
        self.vocabulary = vocabulary
        var ranks: [SymbolPair: Int] = [:]
        for (rank, merge) in merges.enumerated() where ranks[SymbolPair(left: merge.0, right: merge.1)] == nil {
            ranks[SymbolPair(left: merge.0, right: merge.1)] = rank
        }
        mergeRanks = ranks
    }

    /// The model input: `maxLength` ids, start token, text (truncated), end token, padding.
    /// Equals transformers' `tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids`.
    public func encode(_ text: String) -> [Int] {
        let content = contentIDs(text).prefix(max(0, maxLength - 2))
        let ids = [bosTokenID] + content + [eosTokenID]
        return ids + [Int](repeating: padTokenID, count: max(0, maxLength - ids.count))
    }

    /// Every id, untruncated and unpadded, with start and end tokens (`tokenizer(text).input_ids`),
    /// for prompts longer than the context that a pipeline splits into chunks.
    public func tokenIDs(_ text: String) -> [Int] {
        [bosTokenID] + contentIDs(text) + [eosTokenID]
    }

    /// The ids of the text alone, without start and end tokens.
    public func contentIDs(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in Self.splitSpecialTokens(text) {
            switch segment {
            case let .special(token):
                ids.append(token == Self.startOfText ? bosTokenID : eosTokenID)
            case let .text(part):
                ids += textIDs(part)
            }
        }
        return ids
    }

    /// The ids of text without special tokens: added tokens first, byte pairs between them.
    private func textIDs(_ text: Substring) -> [Int] {
        let earliest = addedTokens.compactMap { token in
            text.range(of: token.text, options: .caseInsensitive).map { (range: $0, ids: token.ids) }
        }.min { ($0.range.lowerBound, text.distance(from: $1.range.lowerBound, to: $1.range.upperBound))
            < ($1.range.lowerBound, text.distance(from: $0.range.lowerBound, to: $0.range.upperBound)) }
        guard let match = earliest else {
            return Self.preTokenize(Self.normalize(text)).flatMap { bytePairEncode($0).map { vocabulary[$0] ?? eosTokenID } }
        }
        return textIDs(text[..<match.range.lowerBound]) + match.ids + textIDs(text[match.range.upperBound...])
    }

    // MARK: - 1. Special tokens

    private enum Segment {
        case special(String)
        case text(Substring)
    }

    private static func splitSpecialTokens(_ text: String) -> [Segment] {
        var segments: [Segment] = []
        var rest = text[...]
        while let match = [startOfText, endOfText].compactMap({ rest.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            if match.lowerBound > rest.startIndex { segments.append(.text(rest[..<match.lowerBound])) }
            segments.append(.special(String(rest[match])))
            rest = rest[match.upperBound...]
        }
        if !rest.isEmpty { segments.append(.text(rest)) }
        return segments
    }

    // MARK: - 2. Normalisation

    static func normalize(_ text: Substring) -> String {
        var result = String.UnicodeScalarView()
        var inWhitespace = false
        for scalar in String(text).precomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inWhitespace { result.append(" ") }
                inWhitespace = true
            } else {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                inWhitespace = false
            }
        }
        return String(result)
    }

    // MARK: - 3. Pre-tokenisation

    private enum ScalarClass { case whitespace, letter, number, other }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        if scalar.properties.isWhitespace { return .whitespace }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }

    /// The regex's matches, leftmost alternative first at each position, as the Split pre-tokenizer
    /// (and the ByteLevel split after it, which these pieces already satisfy) produce them.
    static func preTokenize(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            let kind = classify(scalars[start])
            var end = start + 1
            if kind == .whitespace {
                start = end
                continue
            }
            if let contraction = contractions.first(where: { scalars[start...].starts(with: $0) }) {
                end = start + contraction.count
            } else if kind != .number {
                while end < scalars.count, classify(scalars[end]) == kind { end += 1 }
            }
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[start ..< end])
            pieces.append(String(piece))
            start = end
        }
        return pieces
    }

    // MARK: - 4. Byte-level BPE

    /// GPT-2's reversible byte -> printable character table: printable Latin-1 bytes map to
    /// themselves, the other 68 bytes to U+0100 onwards in byte order.
    static let byteSymbols: [String] = {
        let printable = Set(Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255))
        var next: UInt32 = 256
        return (0 ... 255).map { byte in
            var code = UInt32(byte)
            if !printable.contains(byte) {
                code = next
                next += 1
            }
            // Every code here is below U+0144, so always a valid scalar.
            return Unicode.Scalar(code).map { String(Character($0)) } ?? ""
        }
    }()

    private func bytePairEncode(_ piece: String) -> [String] {
        var word = piece.utf8.map { Self.byteSymbols[Int($0)] }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, pair: SymbolPair)?
            for index in 0 ..< word.count - 1 {
                let pair = SymbolPair(left: word[index], right: word[index + 1])
                if let rank = mergeRanks[pair], rank < best?.rank ?? Int.max { best = (rank, pair) }
            }
            guard let pair = best?.pair else { break }
            word = Self.merge(pair, in: word)
        }
        return word
    }

    /// Replaces every non-overlapping occurrence of `pair`, left to right.
    private static func merge(_ pair: SymbolPair, in word: [String]) -> [String] {
        var merged: [String] = []
        merged.reserveCapacity(word.count)
        var index = 0
        while index < word.count {
            if index + 1 < word.count, word[index] == pair.left, word[index + 1] == pair.right {
                merged.append(pair.left + pair.right)
                index += 2
            } else {
                merged.append(word[index])
                index += 1
            }
        }
        return merged
    }

    // MARK: - Files

    /// `pad_token` from tokenizer_config.json, else special_tokens_map.json.
    private static func padToken(in folder: URL) throws -> String? {
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            if let token = try decodeJSONFile(SpecialTokens.self, from: url).padToken { return token }
        }
        return nil
    }

    /// The part of a tokenizer's JSON settings read here: `pad_token`, written as a string or as
    /// an added token `{"content": ...}`; anything else (or nothing) reads as nil.
    private struct SpecialTokens: Decodable {
        private struct AddedToken: Decodable { let content: String }
        private enum CodingKeys: String, CodingKey { case padToken = "pad_token" }
        let padToken: String?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            padToken = (try? c.decode(String.self, forKey: .padToken))
                ?? (try? c.decode(AddedToken.self, forKey: .padToken))?.content
        }
    }
}
