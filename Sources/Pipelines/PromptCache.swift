import Foundation
import Tensors

/// Text embeddings already computed, by prompt and CLIP skip: a batch with one prompt
/// encodes it once. Holds at most `capacity` prompts (the oldest go first), since a batch
/// with a prompt per image would otherwise keep every embedding (236 KB each for SD 1.x).
final class PromptCache<Value>: @unchecked Sendable {
    private struct Key: Hashable {
        let prompt: String
        let clipSkip: Int
    }

    private let capacity: Int
    // Guards `entries` and `insertionOrder`; pipelines may run images on several threads.
    private let lock = NSLock()
    private var entries: [Key: Value] = [:]
    private var insertionOrder: [Key] = []

    init(capacity: Int = 64) {
        self.capacity = capacity
    }

    func embeddings(for prompt: String, clipSkip: Int?, compute: () -> Value) -> Value {
        let key = Key(prompt: prompt, clipSkip: clipSkip ?? 0)
        if let cached = lock.withLock({ entries[key] }) { return cached }
        let computed = compute()
        lock.withLock {
            guard entries.updateValue(computed, forKey: key) == nil else { return }
            insertionOrder.append(key)
            if insertionOrder.count > capacity { entries[insertionOrder.removeFirst()] = nil }
        }
        return computed
    }
}
