import Foundation
import Models
import Tensors

/// Prompts longer than CLIP's context, as AUTOMATIC1111 handles them
/// (modules/sd_hijack_clip.py `tokenize_line`), instead of diffusers' truncation.
///
/// The prompt's tokens are split into chunks of 75. When a chunk is full and the next token
/// is not a comma, and the chunk's last comma is within its last 20 tokens
/// (`comma_padding_backtrack`), the tokens after that comma move to the next chunk. Each chunk
/// is padded to 75 with the padding token, wrapped in start and end tokens (77 ids), encoded
/// on its own, and the hidden states are concatenated along the sequence.
///
/// Prompts of at most 75 tokens stay one ordinary 77-token input, so they keep diffusers
/// parity. Limitations: no emphasis syntax (`(word:1.2)`), `BREAK` or textual-inversion
/// embeddings: the prompt is taken literally.
struct PromptChunker {
    static let chunkLength = 75
    static let commaBacktrack = 20

    let startToken: Int
    let endToken: Int
    let padToken: Int
    /// The id of `,</w>`; nil when the vocabulary has none (no backtracking then).
    let commaToken: Int?

    init(tokenizer: CLIPTokenizer) {
        startToken = tokenizer.bosTokenID
        endToken = tokenizer.eosTokenID
        padToken = tokenizer.padTokenID
        let comma = tokenizer.contentIDs(",")
        commaToken = comma.count == 1 ? comma[0] : nil
    }

    /// The 77-id chunks of a prompt's tokens (without start and end tokens); one padded
    /// chunk for at most 75 tokens.
    func chunks(_ tokens: [Int]) -> [[Int]] {
        var chunks: [[Int]] = []
        var chunk: [Int] = []
        var lastComma: Int?
        for token in tokens {
            if token == commaToken {
                lastComma = chunk.count
            } else if chunk.count == Self.chunkLength, let comma = lastComma,
                      chunk.count - comma <= Self.commaBacktrack {
                chunks.append(closed(Array(chunk[...comma])))
                chunk = Array(chunk[(comma + 1)...])
                lastComma = nil
            }
            if chunk.count == Self.chunkLength {
                chunks.append(closed(chunk))
                chunk = []
                lastComma = nil
            }
            chunk.append(token)
        }
        if !chunk.isEmpty || chunks.isEmpty { chunks.append(closed(chunk)) }
        return chunks
    }

    private func closed(_ chunk: [Int]) -> [Int] {
        [startToken] + chunk + [Int](repeating: padToken, count: Self.chunkLength - chunk.count) + [endToken]
    }
}

extension StableDiffusion {
    /// The text encoder's hidden states for a prompt: diffusers' single 77-token input up to
    /// 75 tokens, A1111's chunks (`PromptChunker`) concatenated beyond.
    // -> [1, 77 * chunks, hidden]
    func promptEmbeddings(_ prompt: String, clipSkip: Int?) -> Tensor {
        let tokens = tokenizer.contentIDs(prompt)
        guard tokens.count > PromptChunker.chunkLength else {
            return textEncoder.promptEmbeddings([tokenizer.encode(prompt)], clipSkip: clipSkip)
        }
        let chunks = PromptChunker(tokenizer: tokenizer).chunks(tokens)
        return Tensor.concatenate(chunks.map { textEncoder.promptEmbeddings([$0], clipSkip: clipSkip) }, axis: 1)
    }

    /// `negative` and `positive` with the shorter extended by the empty prompt's embeddings
    /// until both have as many chunks, as A1111's `pad_cond` does.
    // [1, 77 * a, d], [1, 77 * b, d] -> both [1, 77 * max(a, b), d]
    func equalChunkCounts(_ negative: Tensor, _ positive: Tensor, clipSkip: Int?) -> (Tensor, Tensor) {
        let length = max(negative.shape[1], positive.shape[1])
        guard negative.shape[1] != positive.shape[1] else { return (negative, positive) }
        let empty = textEmbeddings("", clipSkip: clipSkip)
        func extended(_ states: Tensor) -> Tensor {
            let missing = (length - states.shape[1]) / empty.shape[1]
            return Tensor.concatenate([states] + [Tensor](repeating: empty, count: missing), axis: 1)
        }
        return (extended(negative), extended(positive))
    }
}
