import Adapters
import Foundation
import Models

extension StableDiffusion {
    /// This pipeline with textual inversion `embeddings` added, in order, as diffusers'
    /// `load_textual_inversion(file, token=stem)`: each token added to the tokenizer (with one id
    /// per vector) and its vectors to the text encoder's token embeddings. A token the vocabulary
    /// has, or an embedding of another width than the text encoder's, is an error naming the file.
    public func addingEmbeddings(_ embeddings: [TextualInversion]) throws -> StableDiffusion {
        guard !embeddings.isEmpty else { return self }
        var tokenizer = self.tokenizer
        var textEncoder = self.textEncoder
        for embedding in embeddings {
            let width = textEncoder.config.hiddenSize
            guard textEncoder.tokenEmbeddingCount == tokenizer.nextTokenID else {
                throw AdapterError.badEmbedding(path: embedding.path, detail: "the text encoder has \(textEncoder.tokenEmbeddingCount) "
                                                + "token embeddings for a vocabulary of \(tokenizer.nextTokenID) tokens")
            }
            guard embedding.vectors.shape[1] == width else {
                throw AdapterError.badEmbedding(path: embedding.path,
                                                detail: "vectors of width \(embedding.vectors.shape[1]), the text encoder's are \(width)")
            }
            guard let extended = tokenizer.adding(embedding.token, vectors: embedding.vectors.shape[0]) else {
                throw AdapterError.badEmbedding(path: embedding.path,
                                                detail: "its token '\(embedding.token)' is already in the tokenizer; rename the file")
            }
            tokenizer = extended
            textEncoder = textEncoder.addingTokenEmbeddings(embedding.vectors)
        }
        return replacing(tokenizer: tokenizer, textEncoder: textEncoder)
    }
}
