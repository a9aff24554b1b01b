import Testing
@testable import Prompts

/// AUTOMATIC1111's `parse_prompt_attention`, fragment by fragment (its doctests and more),
/// and the syntax that is refused rather than taken as text.
struct WeightedPromptTests {
    static func pieces(_ prompt: String) throws -> [WeightedPrompt.Piece] {
        try WeightedPrompt(prompt).pieces
    }

    /// The weights as A1111 computes them (products in float64, in closing order).
    @Test func weightsOfEachFragment() throws {
        #expect(try Self.pieces("normal text") == [.text("normal text", weight: 1)])
        #expect(try Self.pieces("an (important) word")
                == [.text("an ", weight: 1), .text("important", weight: 1.1), .text(" word", weight: 1)])
        #expect(try Self.pieces("(unbalanced") == [.text("unbalanced", weight: 1.1)])
        #expect(try Self.pieces("(unnecessary)(parens)") == [.text("unnecessaryparens", weight: 1.1)])
        #expect(try Self.pieces("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") == [
            .text("a ", weight: 1), .text("house", weight: 1.5730000000000004), .text(" ", weight: 1.1),
            .text("on", weight: 1), .text(" a ", weight: 1.1), .text("hill", weight: 0.55),
            .text(", sun, ", weight: 1.1), .text("sky", weight: 1.4641000000000006), .text(".", weight: 1.1),
        ])
        #expect(try Self.pieces("((x))") == [.text("x", weight: 1.1 * 1.1)])
        #expect(try Self.pieces("[x] [[y]]") == [.text("x", weight: 1 / 1.1), .text(" ", weight: 1),
                                                 .text("y", weight: 1 / 1.1 / 1.1)])
        #expect(try Self.pieces("(x: 1.5 ) (y:+.5) (z:2.)") == [
            .text("x", weight: 1.5), .text(" ", weight: 1), .text("y", weight: 0.5), .text(" ", weight: 1),
            .text("z", weight: 2)])
    }

    @Test func escapesAndStrayClosersAreText() throws {
        #expect(try Self.pieces("\\(literal\\]") == [.text("(literal]", weight: 1)])
        #expect(try Self.pieces("a \\\\ b \\q") == [.text("a \\ b q", weight: 1)])
        #expect(try Self.pieces("a) b] (c)") == [.text("a) b] ", weight: 1), .text("c", weight: 1.1)])
        #expect(try Self.pieces("10:30 and x:1.2)") == [.text("10:30 and x:1.2)", weight: 1)])
        #expect(try Self.pieces("[a:b]") == [.text("a:b", weight: 1 / 1.1)])
        #expect(try Self.pieces("") == [.text("", weight: 1)])
    }

    @Test func breakEndsAChunkWithTheWhitespaceAroundIt() throws {
        #expect(try Self.pieces("a cat  BREAK\na dog") == [.text("a cat", weight: 1), .chunkBreak, .text("a dog", weight: 1)])
        #expect(try Self.pieces("BREAK a") == [.text("", weight: 1), .chunkBreak, .text("a", weight: 1)])
        #expect(try Self.pieces("a BREAK BREAK (b)")
                == [.text("a", weight: 1), .chunkBreak, .text("", weight: 1), .chunkBreak, .text("", weight: 1),
                    .text("b", weight: 1.1)])
        // not the whole word
        #expect(try Self.pieces("BREAKING breaks xBREAK BREAK_") == [.text("BREAKING breaks xBREAK BREAK_", weight: 1)])
    }

    /// Syntax A1111 reads as something else than text, refused with where it starts.
    @Test(arguments: [
        ("a [cat:dog:5] b", 2, "prompt editing"),
        ("a [cat:dog:0.5]", 2, "prompt editing"),
        ("[cat::10]", 0, "prompt editing"),
        ("[cat: 3 ]", 0, "prompt editing"),
        ("(x [a:b:1e1])", 3, "prompt editing"),
        ("a [cat|dog]", 2, "alternation"),
        ("[fe|]male", 0, "alternation"),
        ("photo <lora:detail:0.8>", 6, "LoRA tags are read from prompts only"),
        ("<LyCO:x:1>", 0, "LoRA tags are read from prompts only"),
        ("<hypernet:anime:1>", 0, "extra network (hypernet)"),
        ("(x:1.2.3)", 2, "'1.2.3' in ':1.2.3)' is not a number"),
        ("(a BREAK b)", 3, "BREAK inside"),
        ("(a BREAK b", 3, "BREAK inside"),
    ])
    func unsupportedSyntaxIsRefused(_ prompt: String, _ offset: Int, _ message: String) {
        expectPromptSyntaxError(at: offset, saying: message) { _ = try WeightedPrompt(prompt) }
    }

    @Test(arguments: [
        ("a cat AND a dog", 6, "composable diffusion"),
        ("AND", 0, "composable diffusion"),
        ("a cat:1.5", 5, "ends in ':1.5'"),
        ("a wide photo, 16 : 9  ", 17, "ends in ':9'"),
        ("x:.5", 1, "ends in ':.5'"),
    ])
    func composableDiffusionIsRefusedInPrompts(_ prompt: String, _ offset: Int, _ message: String) throws {
        _ = try WeightedPrompt(prompt)
        expectPromptSyntaxError(at: offset, saying: message) { try WeightedPrompt.checkPositive(prompt) }
    }

    /// Near misses that A1111 reads as plain or weighted text.
    @Test(arguments: ["[a:b]", "[a:b:c:5]", "[a (b:3]", "\\[a:b:5\\]", "[a\\:5]", "(a|b)", "a | b", "<lora>", "<:x>",
                      "(red:1.3)", "ANDROID and", "ratio 16:9 (wide)", "[a:5 (]", "x:1.5)"])
    func nearMissesAreText(_ prompt: String) throws {
        _ = try WeightedPrompt(prompt)
        try WeightedPrompt.checkPositive(prompt)
    }

    @Test func signedNumbersAsLarkReadsThem() {
        for text in ["5", "+5", "-0.5", ".5", "5.", "1e3", "1.5E-2"] { #expect(UnsupportedPromptSyntax.isNumber(text), "\(text)") }
        for text in ["", ".", "e3", "1e", "1.2.3", "+", "5x"] { #expect(!UnsupportedPromptSyntax.isNumber(text), "\(text)") }
    }

    @Test func theErrorSaysWhere() {
        let error = PromptSyntaxError(offset: 4, message: "no")
        #expect(error.errorDescription == "prompt, at character 5: no")
    }
}
