import Foundation
import Models
import Prompts
import Tensors

/// Prompts as AUTOMATIC1111 encodes them (modules/sd_hijack_clip.py `tokenize_line` and
/// `process_tokens`): in its syntax (`WeightedPrompt`) and beyond CLIP's context, instead of
/// diffusers' literal, truncated text.
///
/// Each piece of the parsed prompt is tokenized on its own and its tokens get its weight. The
/// tokens fill chunks of 75: when a chunk is full and the next token is not a comma, and the
/// chunk's last comma is within its last 20 tokens (`comma_padding_backtrack`), the tokens
/// after that comma move to the next chunk; a BREAK ends the chunk at once, even an empty one.
/// Each chunk is wrapped in start and end tokens and padded after its end token to 77 ids,
/// with weight 1 outside the text, and encoded on its own; the chunks' hidden states are
/// concatenated along the sequence.
///
/// A prompt of at most 75 tokens without syntax is one chunk, the ordinary 77-token input, so
/// it keeps diffusers parity. Limitations: no textual-inversion embeddings.
struct PromptChunker {
    static let chunkLength = 75
    static let commaBacktrack = 20

    /// One 77-token input and the weight of each token.
    struct Chunk: Equatable {
        var ids: [Int]
        var weights: [Float]
    }

    /// A parsed prompt's pieces, tokenized.
    enum Run {
        case tokens([Int], weight: Double)
        case chunkBreak
    }

    let startToken: Int
    let endToken: Int
    let padToken: Int
    /// The id of `,</w>`; nil when the vocabulary has none (no backtracking then).
    let commaToken: Int?

    init(startToken: Int, endToken: Int, padToken: Int, commaToken: Int?) {
        self.startToken = startToken
        self.endToken = endToken
        self.padToken = padToken
        self.commaToken = commaToken
    }

    init(tokenizer: CLIPTokenizer) {
        let comma = tokenizer.contentIDs(",")
        self.init(startToken: tokenizer.bosTokenID, endToken: tokenizer.eosTokenID, padToken: tokenizer.padTokenID,
                  commaToken: comma.count == 1 ? comma[0] : nil)
    }

    /// The chunks of a parsed prompt, each piece tokenized by `tokenizer`.
    func chunks(_ prompt: WeightedPrompt, tokenizer: CLIPTokenizer) -> [Chunk] {
        chunks(prompt.pieces.map { piece -> Run in
            switch piece {
            case .text(let text, let weight): .tokens(tokenizer.contentIDs(text), weight: weight)
            case .chunkBreak: .chunkBreak
            }
        })
    }

    /// The chunks of a prompt's runs; one padded chunk for at most 75 tokens and no break.
    func chunks(_ runs: [Run]) -> [Chunk] {
        var chunks: [Chunk] = []
        var chunk = Chunk(ids: [], weights: [])
        var lastComma: Int?
        func close() {
            chunks.append(closed(chunk))
            chunk = Chunk(ids: [], weights: [])
            lastComma = nil
        }
        for run in runs {
            guard case .tokens(let tokens, let weight) = run else {
                close()
                continue
            }
            for token in tokens {
                if token == commaToken {
                    lastComma = chunk.ids.count
                } else if chunk.ids.count == Self.chunkLength, let comma = lastComma,
                          chunk.ids.count - comma <= Self.commaBacktrack {
                    let moved = Chunk(ids: Array(chunk.ids[(comma + 1)...]), weights: Array(chunk.weights[(comma + 1)...]))
                    chunk = Chunk(ids: Array(chunk.ids[...comma]), weights: Array(chunk.weights[...comma]))
                    close()
                    chunk = moved
                }
                if chunk.ids.count == Self.chunkLength { close() }
                chunk.ids.append(token)
                chunk.weights.append(Float(weight))
            }
        }
        if !chunk.ids.isEmpty || chunks.isEmpty { close() }
        return chunks
    }

    /// Start token, the text, end token, then padding to 77 (`next_chunk`, and `process_tokens`
    /// putting the pad token after the first end token where it differs, as for SD 2).
    private func closed(_ chunk: Chunk) -> Chunk {
        let padding = Self.chunkLength - chunk.ids.count
        return Chunk(ids: [startToken] + chunk.ids + [endToken] + [Int](repeating: padToken, count: padding),
                     weights: [1] + chunk.weights + [Float](repeating: 1, count: padding + 1))
    }

    /// A1111's default ("Original") emphasis on one chunk's hidden states
    /// (`sd_emphasis.EmphasisOriginal`): each token's state multiplied by its weight, then
    /// everything rescaled so the mean is the unweighted one. Unweighted chunks are returned
    /// as they are (the rescaling is then exactly 1).
    // states: [1, 77, hidden]
    static func emphasized(_ states: Tensor, weights: [Float]) -> Tensor {
        guard weights.contains(where: { $0 != 1 }) else { return states }
        let hidden = states.shape[2]
        func mean(_ values: [Float]) -> Float { Float(values.reduce(0.0) { $0 + Double($1) } / Double(values.count)) }
        let originalMean = mean(states.scalars)
        var scaled = states.scalars
        for (token, weight) in weights.enumerated() {
            for index in (token * hidden)..<((token + 1) * hidden) { scaled[index] *= weight }
        }
        let factor = originalMean / mean(scaled)
        return Tensor(shape: states.shape, scalars: scaled.map { $0 * factor })
    }
}

extension StableDiffusion {
    /// The text encoder's hidden states for a parsed prompt, chunked and weighted as A1111
    /// (`PromptChunker`).
    // -> [1, 77 * chunks, hidden]
    func promptEmbeddings(_ prompt: WeightedPrompt, clipSkip: Int?) -> Tensor {
        let chunks = PromptChunker(tokenizer: tokenizer).chunks(prompt, tokenizer: tokenizer)
        return Tensor.concatenate(chunks.map { chunk in
            PromptChunker.emphasized(textEncoder.promptEmbeddings([chunk.ids], clipSkip: clipSkip), weights: chunk.weights)
        }, axis: 1)
    }

    /// `negative` and `positive` with the shorter extended by the empty prompt's embeddings
    /// until both have as many chunks, as A1111's `pad_cond` does.
    // [1, 77 * a, d], [1, 77 * b, d] -> both [1, 77 * max(a, b), d]
    func equalChunkCounts(_ negative: Tensor, _ positive: Tensor, clipSkip: Int?) throws -> (Tensor, Tensor) {
        let length = max(negative.shape[1], positive.shape[1])
        guard negative.shape[1] != positive.shape[1] else { return (negative, positive) }
        let empty = try textEmbeddings("", clipSkip: clipSkip)
        func extended(_ states: Tensor) -> Tensor {
            let missing = (length - states.shape[1]) / empty.shape[1]
            return Tensor.concatenate([states] + [Tensor](repeating: empty, count: missing), axis: 1)
        }
        return (extended(negative), extended(positive))
    }
}
