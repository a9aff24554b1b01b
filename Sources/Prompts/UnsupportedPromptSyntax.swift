/// The AUTOMATIC1111 syntax that is not weighted text, found so it can be refused.
enum UnsupportedPromptSyntax {
    /// Extra networks (`<lora:name:w>`: A1111's `<(\w+):([^>]+)>`), prompt editing and
    /// alternation.
    static func check(_ prompt: [Character]) throws(PromptSyntaxError) {
        if let (start, name, text) = extraNetwork(in: prompt) {
            let lowered = name.lowercased()
            throw PromptSyntaxError(offset: start, message: PromptLoRAs.networkNames.contains(lowered)
                ? "'\(text)': LoRA tags are read from prompts only (not negative or source prompts)"
                : "'\(text)' is an A1111 extra network (\(name)), which is not supported")
        }
        try checkScheduling(prompt)
    }

    /// `AND` (A1111's `\bAND\b`) and a final `:number` (`\s*:\s*[-+]?(\d+\.?|\d*\.\d+)\s*$`),
    /// which A1111 reads in prompts only (`get_multicond_prompt_list`).
    static func checkComposition(_ prompt: [Character]) throws(PromptSyntaxError) {
        let word = Array("AND")
        for start in prompt.indices where start + word.count <= prompt.count
            && prompt[start..<(start + word.count)].elementsEqual(word)
            && !isWordCharacter(prompt, start - 1) && !isWordCharacter(prompt, start + word.count) {
            throw PromptSyntaxError(offset: start, message: "'AND' is A1111's composable diffusion (several prompts "
                                    + "combined at sampling), which is not supported; write it in lower case to mean the word")
        }
        var end = prompt.count
        while end > 0 && prompt[end - 1].isWhitespace { end -= 1 }
        guard let colon = prompt[..<end].lastIndex(of: ":") else { return }
        let weight = String(prompt[(colon + 1)..<end]).trimmingLeadingWhitespace
        if isTrailingWeight(weight) {
            throw PromptSyntaxError(offset: colon, message: "the prompt ends in ':\(weight)', which A1111 reads as a weight "
                                    + "on the whole prompt's guidance (composable diffusion), not as text; that is not "
                                    + "supported: remove it, or write (text:\(weight)) to weight the text")
        }
    }

    // MARK: - Extra networks

    /// The first `<name:arguments>` tag at or after `from`.
    static func extraNetwork(in prompt: [Character], from: Int = 0) -> (start: Int, name: String, text: String)? {
        for start in prompt.indices.dropFirst(from) where prompt[start] == "<" {
            var index = start + 1
            while index < prompt.count && isWordCharacter(prompt, index) { index += 1 }
            guard index > start + 1, index < prompt.count, prompt[index] == ":" else { continue }
            let nameEnd = index
            index += 1
            let argumentsStart = index
            while index < prompt.count && prompt[index] != ">" { index += 1 }
            guard index > argumentsStart, index < prompt.count else { continue }
            return (start, String(prompt[(start + 1)..<nameEnd]), String(prompt[start...index]))
        }
        return nil
    }

    // MARK: - Prompt editing and alternation

    /// A bracket group open at the scan's position, with what its own level holds.
    private struct Group {
        let opener: Character
        let start: Int
        var bar: Int?
        var colons: [Int] = []
    }

    /// `[a:b:when]`, `[a:when]`, `[a::when]` and `[a|b]` at any depth, as A1111's
    /// `schedule_parser` grammar has them (`scheduled`: at most two `:` of the group's own,
    /// the last followed by a number; `alternate`: a `|` of its own). Escaped characters are
    /// text; a closer ends its innermost matching opener and any group left open inside it.
    private static func checkScheduling(_ prompt: [Character]) throws(PromptSyntaxError) {
        var open: [Group] = []
        var index = 0
        while index < prompt.count {
            let character = prompt[index]
            switch character {
            case "\\":
                index += 1
            case "(", "[":
                open.append(Group(opener: character, start: index))
            case "|" where open.last?.opener == "[":
                open[open.count - 1].bar = open[open.count - 1].bar ?? index
            case ":" where open.last?.opener == "[":
                open[open.count - 1].colons.append(index)
            case ")", "]":
                let opener: Character = character == ")" ? "(" : "["
                guard let position = open.lastIndex(where: { $0.opener == opener }) else { break }
                let group = open[position]
                open.removeSubrange(position...)
                if opener == "[" { try checkSquareGroup(group, closedAt: index, in: prompt) }
            default:
                break
            }
            index += 1
        }
    }

    private static func checkSquareGroup(_ group: Group, closedAt end: Int, in prompt: [Character]) throws(PromptSyntaxError) {
        let text = String(prompt[group.start...end])
        if group.bar != nil {
            throw PromptSyntaxError(offset: group.start, message: "'\(text)' is A1111 alternation (the prompt alternates "
                                    + "every step), which is not supported; escape the brackets as \\[ \\] to mean them as text")
        }
        guard let colon = group.colons.last, group.colons.count <= 2,
              isNumber(String(prompt[(colon + 1)..<end]).trimmingLeadingWhitespace.trimmingTrailingWhitespace) else { return }
        throw PromptSyntaxError(offset: group.start, message: "'\(text)' is A1111 prompt editing (the prompt changes during "
                                + "sampling), which is not supported; write the prompt of one of its parts, or escape the "
                                + "brackets as \\[ \\] to mean them as text")
    }

    // MARK: - Characters and numbers

    /// Python's `\w` at `index` (false outside the prompt).
    private static func isWordCharacter(_ prompt: [Character], _ index: Int) -> Bool {
        prompt.indices.contains(index) && (prompt[index].isLetter || prompt[index].isNumber || prompt[index] == "_")
    }

    /// lark's SIGNED_NUMBER: `[+-]?(INT | INT "." INT? | "." INT)` then an optional exponent.
    static func isNumber(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let whole = rest.prefix(while: \.isASCIIDigit)
        rest = rest.dropFirst(whole.count)
        var fraction = Substring("")
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix(while: \.isASCIIDigit)
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return false }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix(while: \.isASCIIDigit)
            guard !exponent.isEmpty else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    /// A1111's trailing prompt weight: `[-+]?(\d+\.?|\d*\.\d+)` and nothing else.
    private static func isTrailingWeight(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let whole = rest.prefix(while: \.isASCIIDigit)
        rest = rest.dropFirst(whole.count)
        if rest.first == "." { rest = rest.dropFirst() } else { return !whole.isEmpty && rest.isEmpty }
        let fraction = rest.prefix(while: \.isASCIIDigit)
        return (!whole.isEmpty || !fraction.isEmpty) && rest.dropFirst(fraction.count).isEmpty
    }
}

extension String {
    var trimmingLeadingWhitespace: String { String(drop(while: \.isWhitespace)) }
    var trimmingTrailingWhitespace: String { String(reversed().drop(while: \.isWhitespace).reversed()) }
}
