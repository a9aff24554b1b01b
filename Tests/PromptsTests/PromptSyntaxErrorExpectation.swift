import Testing
@testable import Prompts

/// Expects `parse` to refuse its prompt with a `PromptSyntaxError` at `offset` whose message
/// contains `message`.
func expectPromptSyntaxError(at offset: Int, saying message: String, sourceLocation: SourceLocation = #_sourceLocation,
                             _ parse: () throws -> Void) {
    let error = #expect(throws: PromptSyntaxError.self, sourceLocation: sourceLocation) { try parse() }
    #expect(error?.offset == offset && error?.message.contains(message) == true, "\(String(describing: error))",
            sourceLocation: sourceLocation)
}
