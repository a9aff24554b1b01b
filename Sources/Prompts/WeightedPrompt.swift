/// A prompt in AUTOMATIC1111's syntax: text with attention weights and chunk breaks, as
/// stable-diffusion-webui's `modules/prompt_parser.py` `parse_prompt_attention` reads it.
///
/// `(x)` multiplies the weight of x by 1.1, `(x:w)` by w, `[x]` by 1 / 1.1, nesting
/// multiplies; brackets left open at the end apply to everything after them, closers with
/// nothing open are text; `\(` `\)` `\[` `\]` `\\` are those characters and any other
/// backslash is dropped; the word `BREAK` starts a new 75-token chunk. Runs of equal weight
/// are merged, so a prompt without syntax is one piece of weight 1.
///
/// Syntax A1111 reads as something else than weighted text is refused (`PromptSyntaxError`),
/// never taken as text: prompt editing `[a:b:when]` and alternation `[a|b]` (the prompt
/// changes during sampling), extra networks such as `<lora:name:w>` (which `PromptLoRAs` takes out
/// of a prompt first, where LoRAs are read), BREAK inside brackets
/// (A1111 then encodes the word BREAK at a negative weight), and a weight that is not a
/// number; for prompts (not negative prompts) also `checkPositive`'s composable diffusion.
///
/// This module is pure text so that both the recipe reader (which refuses such prompts at
/// `validate`) and the pipelines (which encode the weights) read prompts the same way.
public struct WeightedPrompt: Sendable, Equatable {
    public enum Piece: Sendable, Equatable {
        /// Text whose tokens get `weight` (A1111's multiplier).
        case text(String, weight: Double)
        /// `BREAK`: the current chunk ends here, padded.
        case chunkBreak
    }

    public let pieces: [Piece]

    public init(_ prompt: String) throws(PromptSyntaxError) {
        let characters = Array(prompt)
        try UnsupportedPromptSyntax.check(characters)
        pieces = try Self.parseAttention(characters)
    }

    /// What A1111 reads in the prompt (not the negative prompt) beyond its text: `AND`
    /// (composable diffusion, several prompts combined) and a final `:number`, which weighs
    /// the whole prompt's guidance. Both are refused.
    public static func checkPositive(_ prompt: String) throws(PromptSyntaxError) {
        try UnsupportedPromptSyntax.checkComposition(Array(prompt))
    }

    // MARK: - parse_prompt_attention

    /// A weighted run of text while the weights are still being multiplied; `isBreak` marks
    /// A1111's `["BREAK", -1]` entry.
    private struct Fragment {
        var text: String
        var weight: Double
        var isBreak = false
        var offset: Int
    }

    private static func parseAttention(_ characters: [Character]) throws(PromptSyntaxError) -> [Piece] {
        var fragments: [Fragment] = []
        var rounds: [Int] = []
        var squares: [Int] = []
        func multiply(from start: Int, by factor: Double) {
            for index in fragments.indices.dropFirst(start) { fragments[index].weight *= factor }
        }
        var position = 0
        while position < characters.count {
            let character = characters[position]
            let start = position
            switch character {
            case "\\":
                let next = position + 1 < characters.count ? characters[position + 1] : nil
                if let next, "()[]\\".contains(next) {
                    fragments.append(Fragment(text: String(next), weight: 1, offset: start))
                    position += 2
                } else {
                    position += 1
                }
            case "(":
                rounds.append(fragments.count)
                position += 1
            case "[":
                squares.append(fragments.count)
                position += 1
            case ")" where !rounds.isEmpty:
                multiply(from: rounds.removeLast(), by: 1.1)
                position += 1
            case "]" where !squares.isEmpty:
                multiply(from: squares.removeLast(), by: 1 / 1.1)
                position += 1
            case ":":
                if let closer = weightCloser(characters, at: position) {
                    if !rounds.isEmpty {
                        guard let weight = Double(closer.number) else {
                            throw PromptSyntaxError(offset: start, message: "'\(closer.number)' in '\(String(characters[start..<closer.end]))' is not a number")
                        }
                        multiply(from: rounds.removeLast(), by: weight)
                    } else {
                        fragments += plainFragments(characters[start..<closer.end], offset: start)
                    }
                    position = closer.end
                } else {
                    fragments.append(Fragment(text: ":", weight: 1, offset: start))
                    position += 1
                }
            default:
                var end = position + 1
                if character != ")" && character != "]" {
                    while end < characters.count && !"\\()[]:".contains(characters[end]) { end += 1 }
                }
                fragments += plainFragments(characters[start..<end], offset: start)
                position = end
            }
        }
        for start in rounds { multiply(from: start, by: 1.1) }
        for start in squares { multiply(from: start, by: 1 / 1.1) }
        if let misplaced = fragments.first(where: { $0.isBreak && $0.weight != -1 }) {
            throw PromptSyntaxError(offset: misplaced.offset, message: "BREAK inside ( ) or [ ] is not a chunk break "
                                    + "(A1111 encodes the word BREAK at a negative weight there); put it outside the brackets")
        }
        return merged(fragments)
    }

    /// `:` then a weight and `)`, with whitespace around the weight (`:\s*([+-]?[.\d]+)\s*\)`).
    private static func weightCloser(_ characters: [Character], at colon: Int) -> (number: String, end: Int)? {
        var index = colon + 1
        func skipSpace() { while index < characters.count && characters[index].isWhitespace { index += 1 } }
        skipSpace()
        let numberStart = index
        if index < characters.count && (characters[index] == "+" || characters[index] == "-") { index += 1 }
        let digitsStart = index
        while index < characters.count && (characters[index] == "." || characters[index].isASCIIDigit) { index += 1 }
        guard index > digitsStart else { return nil }
        let number = String(characters[numberStart..<index])
        skipSpace()
        guard index < characters.count && characters[index] == ")" else { return nil }
        return (number, index + 1)
    }

    /// Plain text split at the word BREAK and the whitespace around it (`\s*\bBREAK\b\s*`).
    private static func plainFragments(_ run: ArraySlice<Character>, offset: Int) -> [Fragment] {
        var fragments: [Fragment] = []
        var partStart = run.startIndex
        var index = run.startIndex
        let word = Array("BREAK")
        func isWordCharacter(_ i: Int) -> Bool {
            run.indices.contains(i) && (run[i].isLetter || run[i].isNumber || run[i] == "_")
        }
        while index + word.count <= run.endIndex {
            guard run[index..<(index + word.count)].elementsEqual(word), !isWordCharacter(index - 1),
                  !isWordCharacter(index + word.count) else {
                index += 1
                continue
            }
            var before = index
            while before > partStart && run[before - 1].isWhitespace { before -= 1 }
            var after = index + word.count
            while after < run.endIndex && run[after].isWhitespace { after += 1 }
            fragments.append(Fragment(text: String(run[partStart..<before]), weight: 1, offset: offset + partStart - run.startIndex))
            fragments.append(Fragment(text: "BREAK", weight: -1, isBreak: true, offset: offset + index - run.startIndex))
            partStart = after
            index = after
        }
        fragments.append(Fragment(text: String(run[partStart...]), weight: 1, offset: offset + partStart - run.startIndex))
        return fragments
    }

    /// Adjacent text of equal weight merged; an empty prompt is one empty piece of weight 1.
    private static func merged(_ fragments: [Fragment]) -> [Piece] {
        var pieces: [Piece] = []
        for fragment in fragments {
            if fragment.isBreak {
                pieces.append(.chunkBreak)
            } else if case .text(let text, let weight)? = pieces.last, weight == fragment.weight {
                pieces[pieces.count - 1] = .text(text + fragment.text, weight: weight)
            } else {
                pieces.append(.text(fragment.text, weight: fragment.weight))
            }
        }
        return pieces.isEmpty ? [.text("", weight: 1)] : pieces
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
