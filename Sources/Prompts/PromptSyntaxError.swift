import Foundation

/// A prompt that uses AUTOMATIC1111 syntax this version does not apply, or writes it wrongly;
/// refused rather than taken as text, since A1111 (and the PNG parameters sent back to it)
/// would read it differently.
public struct PromptSyntaxError: LocalizedError, Equatable, Sendable {
    /// Where the offending syntax starts: a character offset into the prompt, from 0.
    public let offset: Int
    /// What is wrong, naming the syntax as written.
    public let message: String

    public var errorDescription: String? { "prompt, at character \(offset + 1): \(message)" }
}
