import TensorCore

/// How the DiT's token sequence is cut over the ranks of a communicator (docs/multi-gpu.md): N
/// contiguous shards in token order, boundaries at multiples of `alignment` tokens, the blocks of
/// `alignment` tokens spread as evenly as they go (rank r starts at block ⌊r·blocks/N⌋); the last
/// rank's last block may be partial.
public struct SequenceShards: Sendable, Equatable {
    /// 128: W8A8 quantises activations per 128 rows, so 128-aligned shards quantise exactly as one pass.
    public static let defaultAlignment = 128

    public let tokens: Int
    public let starts: [Int]
    public let counts: [Int]

    /// Throws when some rank would get no tokens (a sequence too short for `ranks` at `alignment`).
    public init(tokens: Int, ranks: Int, alignment: Int = defaultAlignment) throws {
        guard ranks >= 1, alignment >= 1 else { throw TensorError.invalidArgument("sequence shards: \(ranks) ranks, alignment \(alignment)") }
        let blocks = (tokens + alignment - 1) / alignment
        let bounds = (0...ranks).map { min(tokens, $0 * blocks / ranks * alignment) }
        let starts = Array(bounds.dropLast())
        let counts = (0..<ranks).map { bounds[$0 + 1] - bounds[$0] }
        guard counts.allSatisfy({ $0 > 0 }) else {
            throw TensorError.invalidArgument(
                "a sequence of \(tokens) tokens cannot be split over \(ranks) ranks in blocks of \(alignment) (each rank needs at least one block); use fewer GPUs")
        }
        self.tokens = tokens
        self.starts = starts
        self.counts = counts
    }

    public var ranks: Int { counts.count }
    public func range(_ rank: Int) -> Range<Int> { starts[rank] ..< starts[rank] + counts[rank] }
}

/// Sequence parallelism for `WanDiT`: the communicator of this rank and the shard alignment.
public struct SequenceParallelism: Sendable {
    public let communicator: any Communicator
    public var alignment: Int

    public init(_ communicator: any Communicator, alignment: Int = SequenceShards.defaultAlignment) {
        self.communicator = communicator
        self.alignment = alignment
    }

    /// Refuses a head count that `ranks` does not divide, naming the rank counts that work.
    public static func validate(heads: Int, ranks: Int) throws {
        guard ranks >= 1, heads % ranks == 0 else {
            let fits = (2...max(2, heads)).filter { heads % $0 == 0 && $0 <= 8 }.map(String.init).joined(separator: ", ")
            throw TensorError.invalidArgument(
                "sequence parallelism splits the \(heads) attention heads evenly over the GPUs, and \(heads) heads do not divide over \(ranks); use \(fits.isEmpty ? "one GPU" : fits + " GPUs")")
        }
    }
}

/// One rank's part in one forward: its token range and the Ulysses exchanges around self-attention.
struct SequenceShard {
    let communicator: any Communicator
    let shards: SequenceShards
    /// Heads per rank.
    let heads: Int

    init(_ p: SequenceParallelism, tokens: Int, heads: Int) throws {
        try SequenceParallelism.validate(heads: heads, ranks: p.communicator.size)
        communicator = p.communicator
        shards = try SequenceShards(tokens: tokens, ranks: p.communicator.size, alignment: p.alignment)
        self.heads = heads / p.communicator.size
    }

    var rank: Int { communicator.rank }
    var range: Range<Int> { shards.range(rank) }

    /// q, k, v [count_r, H, d] of this rank's tokens -> each [1, H/N, L, d]: every token, this rank's
    /// heads (r·H/N ..< (r+1)·H/N), in token order. One exchange carries all three.
    func allTokens(q: Tensor, k: Tensor, v: Tensor, _ b: any Backend) throws -> (Tensor, Tensor, Tensor) {
        let n = communicator.size, d = q.shape[2], own = q.shape[0]
        let sends = try (0..<n).map { j in
            try b.concat([q, k, v].map { try $0.narrowed(dim: 1, start: j * heads, length: heads) }, dim: 0)   // [3·count_r, H/N, d]
        }
        let received = try communicator.allToAll(sends, receiveShapes: shards.counts.map { [3 * $0, heads, d] })
        assert(own == shards.counts[rank])
        func gather(_ which: Int) throws -> Tensor {
            let parts = try received.enumerated().map { i, t in try t.narrowed(dim: 0, start: which * shards.counts[i], length: shards.counts[i]) }
            return try b.concat(parts, dim: 0).reshaped([1, shards.tokens, heads, d]).permuted([0, 2, 1, 3])
        }
        return (try gather(0), try gather(1), try gather(2))
    }

    /// Attention output [1, H/N, L, d] of this rank's heads -> [count_r, H·d]: this rank's tokens,
    /// every head in order.
    func ownTokens(_ a: Tensor, _ b: any Backend) throws -> Tensor {
        let n = communicator.size, d = a.shape[3]
        let sends = try (0..<n).map { j in
            try a.narrowed(dim: 2, start: shards.starts[j], length: shards.counts[j]).permuted([0, 2, 1, 3])   // [1, count_j, H/N, d]
        }
        let own = shards.counts[rank]
        let received = try communicator.allToAll(sends, receiveShapes: [[Int]](repeating: [own, heads * d], count: n))
        return try b.concat(received, dim: 1)
    }

    /// This rank's rows [count_r, F] -> all rows [L, F] (every rank gets them).
    func allRows(_ x: Tensor, _ b: any Backend) throws -> Tensor {
        let parts = try communicator.allGather(x, shapes: shards.counts.map { [$0, x.shape[1]] })
        return try b.concat(parts, dim: 0)
    }
}
