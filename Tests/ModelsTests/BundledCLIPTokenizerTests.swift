import Foundation
import Testing
@testable import Models

/// The bundled tokenizer against the diffusers-layout files transformers reads
/// (Tests/Fixtures/clip-tokenizer, written by tools/reference/tokenizer_fixtures.py).
@Suite struct BundledCLIPTokenizerTests {
    @Test func derivedVocabularyEqualsTheFixtureVocabJSON() throws {
        let data = try Data(contentsOf: CLIPTokenizerTests.folder().appendingPathComponent("vocab.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Int])
        let derived = CLIPTokenizer.vocabulary(merges: try CLIPTokenizer.bundledMerges())
        #expect(derived.count == 49408)
        #expect(derived == expected)
    }

    @Test func bundledTokenizerEncodesLikeTransformers() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let cases = try CLIPTokenizerTests.cases("cases")
        #expect(cases.count >= 200)
        for entry in cases.prefix(60) {
            let text = try #require(entry["text"] as? String)
            #expect(tokenizer.encode(text) == (try #require(entry["input_ids"] as? [Int])), "\(text.debugDescription)")
        }
    }

    @Test func sd2PadsWithExclamationMark() throws {
        // `tokenizer.convert_tokens_to_ids("!")` on stabilityai/stable-diffusion-2-1-base's tokenizer.
        #expect(try CLIPTokenizer.bundled(padToken: "!").padTokenID == 0)
    }
}
