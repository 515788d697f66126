import Checkpoints
import SystemSupport
import TensorCore

/// Seeded full-size umT5 encoder weights (bf16), the values `turbodiffusion forward t5-synthetic`
/// writes and scripts/reference/t5_synthetic.py rebuilds. Values are uniform with the standard
/// deviations of the reference's `init_weights` (t5.py: embedding 1, q 1/√(dim·dim_attn) (T5 folds
/// the attention scale into q), k/v/gate/fc1 1/√dim, o 1/√(heads·dim_attn), fc2 1/√ffn, position
/// tables 1/√(2·buckets·heads), norms 1); they carry no meaning.
///
/// One SplitMix64 stream runs over the tensors in file order; norm weights (all ones) take no
/// draws. Draw k is z = splitmix64(seed, k + 1), giving two int32 values (low half first), each
/// scaled by std·√3/2³¹. Draws are counter-based, so any range is made independently.
public enum UMT5RandomWeights {
    /// (key, shape, standard deviation; 0 marks a norm weight) in the order of the real file.
    public static func entries(_ c: UMT5Config) -> [(key: String, shape: [Int], std: Float)] {
        let (d, a, f) = (c.dim, c.attentionDim, c.ffnDim)
        func inv(_ x: Int) -> Float { 1 / Float(x).squareRoot() }
        var out: [(key: String, shape: [Int], std: Float)] = [("token_embedding.weight", [c.vocabSize, d], 1)]
        for i in 0..<c.numLayers {
            let k = "blocks.\(i)"
            out += [
                ("\(k).norm1.weight", [d], 0), ("\(k).attn.q.weight", [a, d], inv(d * a)),
                ("\(k).attn.k.weight", [a, d], inv(d)), ("\(k).attn.v.weight", [a, d], inv(d)),
                ("\(k).attn.o.weight", [d, a], inv(c.numHeads * a)), ("\(k).norm2.weight", [d], 0),
                ("\(k).ffn.gate.0.weight", [f, d], inv(d)), ("\(k).ffn.fc1.weight", [f, d], inv(d)),
                ("\(k).ffn.fc2.weight", [d, f], inv(f)),
                ("\(k).pos_embedding.embedding.weight", [c.numBuckets, c.numHeads], inv(2 * c.numBuckets * c.numHeads)),
            ]
        }
        out.append(("norm.weight", [d], 0))
        return out
    }

    /// The stream position (in draws) of each entry's first element. Every drawn tensor has an
    /// even number of elements (two values per draw).
    public static func drawStarts(_ entries: [(key: String, shape: [Int], std: Float)]) -> [UInt64] {
        var start: UInt64 = 0
        return entries.map { e in
            defer { if e.std != 0 { start &+= UInt64(e.shape.reduce(1, *) / 2) } }
            return start
        }
    }

    /// Elements [first, first + out.count) of the entry with standard deviation `std` whose first
    /// element is draw `drawStart`, as bf16 bits. `first` and `out.count` must be even.
    public static func fill(std: Float, drawStart: UInt64, first: Int, seed: UInt64, into out: UnsafeMutableBufferPointer<UInt16>) {
        precondition(first % 2 == 0 && out.count % 2 == 0, "umT5 random values come in pairs")
        if std == 0 { out.update(repeating: BF16.bits(1)); return }
        // Uniform on [−a, a] has std a/√3; draws are int32, so a/2³¹ scales them.
        let a = std * Float(3).squareRoot() / Float(1 << 31)
        let base = drawStart &+ UInt64(first / 2)
        let p = UncheckedSendable(out.baseAddress!)
        parallelRanges(out.count / 2) { r in
            for j in r {
                let z = WanVAERandomWeights.splitmix64(seed, base &+ UInt64(j) &+ 1)
                p.value[2 * j] = BF16.bits(Float(Int32(truncatingIfNeeded: z)) * a)
                p.value[2 * j + 1] = BF16.bits(Float(Int32(truncatingIfNeeded: z >> 32)) * a)
            }
        }
    }

    /// The whole state dict in memory (about 11.4 GB at umT5-XXL's size).
    public static func stateDict(_ config: UMT5Config, seed: UInt64) throws -> [NamedTensor] {
        let entries = entries(config)
        let starts = drawStarts(entries)
        return try zip(entries, starts).map { e, start in
            let t = try Tensor.hostEmpty(e.shape, dtype: .bf16)
            let n = e.shape.reduce(1, *)
            fill(std: e.std, drawStart: start, first: 0, seed: seed,
                 into: UnsafeMutableBufferPointer(start: try t.hostBuffer().base.assumingMemoryBound(to: UInt16.self), count: n))
            return NamedTensor(name: e.key, tensor: t)
        }
    }
}
