#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// A text encoder that remembers its last few results: encoding the same token ids with the
/// same mask (and compute type) again returns the stored tensor without running the model.
/// A small LRU: prompts are re-encoded when a user repeats one in a session (serve, web UI),
/// and each result is only [≤ 512, 4096] (8 MiB in f32), so a handful is plenty.
///
/// Results are tensors on the encoder's backend; ops never write into their inputs, so
/// handing the same tensor to several callers is safe. Thread-safe.
public final class CachedTextEncoder: TextEncoding, @unchecked Sendable {
    public let encoder: any TextEncoding
    public let capacity: Int
    private struct Key: Hashable {
        let tokens: TokenSequence
        let dtype: DType
    }
    private let lock = Lock()
    private var entries: [Key: Tensor] = [:]
    /// Keys from least to most recently used.
    private var recency: [Key] = []
    public private(set) var hits = 0
    public private(set) var misses = 0

    public var embeddingDim: Int { encoder.embeddingDim }

    public init(_ encoder: any TextEncoding, capacity: Int = 8) {
        precondition(capacity >= 1, "a cache holds at least one entry")
        self.encoder = encoder
        self.capacity = capacity
    }

    /// Number of results held.
    public var count: Int { lock.withLock { entries.count } }

    public func encode(_ tokens: TokenSequence, _ ctx: ComputeContext) throws -> Tensor {
        let key = Key(tokens: tokens, dtype: ctx.dtype)
        if let hit = lock.withLock({ () -> Tensor? in
            guard let t = entries[key] else { return nil }
            hits += 1
            touch(key)
            return t
        }) { return hit }
        // Encode outside the lock: a forward takes seconds. Two threads missing on the same
        // prompt both encode it; the second insert just refreshes the entry.
        let result = try encoder.encode(tokens, ctx)
        lock.withLock {
            misses += 1
            if entries.updateValue(result, forKey: key) == nil, entries.count > capacity {
                entries[recency.removeFirst()] = nil
            }
            touch(key)
        }
        return result
    }

    /// Forgets every stored result (e.g. after the encoder's backend freed its memory).
    public func removeAll() {
        lock.withLock {
            entries.removeAll()
            recency.removeAll()
        }
    }

    /// Moves `key` to the most recent end. Call with the lock held.
    private func touch(_ key: Key) {
        if let i = recency.firstIndex(of: key) { recency.remove(at: i) }
        recency.append(key)
    }
}
