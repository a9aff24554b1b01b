import Foundation
import OverpaintTestSupport
import Testing
@testable import Models

/// Token ids from transformers' CLIPTokenizer on the vocabulary built from open_clip's
/// bpe_simple_vocab_16e6.txt.gz (tools/reference/tokenizer_fixtures.py):
/// `tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids` and `tokenizer(text).input_ids`.
@Suite struct CLIPTokenizerTests {
    static func folder() -> URL { Fixtures.root.appendingPathComponent("clip-tokenizer") }

    static func cases(_ key: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: folder().appendingPathComponent("prompts.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object[key] as? [[String: Any]])
    }

    static let tokenizer = Result { try CLIPTokenizer(folder: folder()) }

    @Test func matchesTransformersOnEveryPrompt() throws {
        let tokenizer = try Self.tokenizer.get()
        let cases = try Self.cases("cases")
        #expect(cases.count >= 200)
        for entry in cases {
            let text = try #require(entry["text"] as? String)
            let padded = try #require(entry["input_ids"] as? [Int])
            let full = try #require(entry["untruncated_ids"] as? [Int])
            #expect(tokenizer.encode(text) == padded, "\(text.debugDescription)")
            #expect(tokenizer.tokenIDs(text) == full, "\(text.debugDescription)")
        }
    }

    @Test func specialIDsAndLengthAreCLIPs() throws {
        let tokenizer = try Self.tokenizer.get()
        #expect(tokenizer.bosTokenID == 49406 && tokenizer.eosTokenID == 49407 && tokenizer.padTokenID == 49407)
        #expect(tokenizer.encode("").count == 77)
        #expect(tokenizer.encode(String(repeating: "cat ", count: 200)).last == 49407)
    }

    @Test func padTokenComesFromTheTokenizerConfig() throws {
        // SD 2.x tokenizers pad with "!" (id 0): CLIPTokenizer.from_pretrained(folder, pad_token="!").
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Self.folder().appendingPathComponent(name), to: copy.appendingPathComponent(name))
        }
        try Data(#"{"pad_token": "!", "model_max_length": 77}"#.utf8).write(to: copy.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try CLIPTokenizer(folder: copy)
        #expect(tokenizer.padTokenID == 0)
        for entry in try Self.cases("pad_exclamation_cases") {
            let text = try #require(entry["text"] as? String)
            #expect(tokenizer.encode(text) == (try #require(entry["input_ids"] as? [Int])), "\(text.debugDescription)")
        }
    }

    @Test func missingFilesNameTheFile() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-tokenizer-\(UUID().uuidString)")
        let error = #expect(throws: (any Error).self) { try CLIPTokenizer(folder: empty) }
        #expect((error as? LocalizedError)?.errorDescription?.contains("vocab.json") == true)
    }
}
