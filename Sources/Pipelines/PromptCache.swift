import Foundation
import Tensors

/// Text embeddings already computed, by prompt and CLIP skip: a batch with one prompt
/// encodes it once.
final class PromptCache: @unchecked Sendable {
    private struct Key: Hashable {
        let prompt: String
        let clipSkip: Int
    }

    // Guards `entries`; pipelines may run images on several threads.
    private let lock = NSLock()
    private var entries: [Key: Tensor] = [:]

    func embeddings(for prompt: String, clipSkip: Int?, compute: () -> Tensor) -> Tensor {
        let key = Key(prompt: prompt, clipSkip: clipSkip ?? 0)
        if let cached = lock.withLock({ entries[key] }) { return cached }
        let computed = compute()
        lock.withLock { entries[key] = computed }
        return computed
    }
}
