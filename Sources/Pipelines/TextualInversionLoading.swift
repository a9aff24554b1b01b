import Adapters
import Foundation
import Models
import Tensors

extension StableDiffusion {
    /// This pipeline with textual inversion `embeddings` added, in order, as diffusers'
    /// `load_textual_inversion(file, token=stem)`: each token added to the tokenizer (with one id
    /// per vector) and its vectors to the text encoder's token embeddings. On SDXL, as diffusers
    /// loads SDXL files: `clip_l` through `tokenizer` / `text_encoder` and `clip_g` through
    /// `tokenizer_2` / `text_encoder_2`, each a `load_textual_inversion(vectors, token=stem, ...)`.
    /// An SDXL embedding for an SD 1.x / 2.x model or the reverse, a token the vocabulary has, or
    /// vectors of another width than their text encoder's are errors naming the file.
    public func addingEmbeddings(_ embeddings: [TextualInversion]) throws -> StableDiffusion {
        guard !embeddings.isEmpty else { return self }
        var first = EmbeddingTarget(tokenizer: tokenizer, textEncoder: textEncoder, name: "text encoder")
        var second = sdxl.map { EmbeddingTarget(tokenizer: $0.tokenizer2, textEncoder: $0.textEncoder2.textModel, name: "second text encoder") }
        for embedding in embeddings {
            switch (embedding.secondEncoderVectors, second != nil) {
            case (nil, false):
                try first.add(embedding.vectors, of: embedding)
            case let (secondVectors?, true):
                try first.add(embedding.vectors, of: embedding)
                try second?.add(secondVectors, of: embedding)
            case (_?, false):
                throw AdapterError.badEmbedding(path: embedding.path, detail: "an SDXL embedding (clip_l / clip_g), but the model is not SDXL")
            case (nil, true):
                throw AdapterError.badEmbedding(path: embedding.path, detail: "an SD 1.x / 2.x embedding (one tensor), but the model is SDXL, "
                                                + "which takes SDXL embeddings (clip_l / clip_g)")
            }
        }
        var xl = sdxl
        if let sdxl, let second {
            xl = sdxl.replacing(tokenizer2: second.tokenizer, textEncoder2: sdxl.textEncoder2.replacingTextModel(second.textEncoder))
        }
        return replacing(tokenizer: first.tokenizer, textEncoder: first.textEncoder, sdxl: xl)
    }
}

/// One tokenizer and the text encoder it feeds, taking textual inversion tokens: diffusers'
/// `load_textual_inversion` with its `tokenizer` and `text_encoder`.
private struct EmbeddingTarget {
    var tokenizer: CLIPTokenizer
    var textEncoder: CLIPTextModel
    /// How errors name the text encoder.
    let name: String

    /// `vectors` [count, width] as `embedding`'s token: the token added to the tokenizer (ids
    /// token, token_1, ...) and the rows to the token embeddings those ids index.
    mutating func add(_ vectors: Tensor, of embedding: TextualInversion) throws {
        let width = textEncoder.config.hiddenSize
        guard textEncoder.tokenEmbeddingCount == tokenizer.nextTokenID else {
            throw AdapterError.badEmbedding(path: embedding.path, detail: "the \(name) has \(textEncoder.tokenEmbeddingCount) "
                                            + "token embeddings for a vocabulary of \(tokenizer.nextTokenID) tokens")
        }
        guard vectors.shape[1] == width else {
            throw AdapterError.badEmbedding(path: embedding.path, detail: "vectors of width \(vectors.shape[1]), the \(name)'s are \(width)")
        }
        guard let extended = tokenizer.adding(embedding.token, vectors: vectors.shape[0]) else {
            throw AdapterError.badEmbedding(path: embedding.path,
                                            detail: "its token '\(embedding.token)' is already in the tokenizer; rename the file")
        }
        tokenizer = extended
        textEncoder = textEncoder.addingTokenEmbeddings(vectors)
    }
}
