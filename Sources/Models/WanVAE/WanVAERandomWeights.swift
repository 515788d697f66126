import Checkpoints
import Dispatch
import SystemSupport
import TensorCore

/// Seeded VAE weights that scripts/reference/make_vae_fixtures.py reproduces bit for bit, so
/// parity fixtures need no committed weight file and full-size weights can be made on the fly
/// (benchmarks). One counter-based stream runs over the state dict in key order: element i of
/// the whole dict is
///
///     z = splitmix64(seed, i);  t = (z >> 40)·2⁻²³ − 1         (exact in f32, in [-1, 1))
///     *.gamma → 1 + 0.25·t;  *.bias → 0.05·t;  *.weight → t · f32(gain/√fan_in)
///
/// with fan_in = shape[1]·prod(shape[2...]), gain 2 for attention's `to_qkv` (logits of RMS ≈ 4/3:
/// a softmax far from uniform) and 1 elsewhere. All arithmetic is f32, so both sides round identically.
public enum WanVAERandomWeights {
    @inline(__always)
    static func splitmix64(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The state dict of `config` (names as in the released checkpoint) filled from `seed`;
    /// only the tensors whose name passes `keep` are made (the others still advance the stream).
    public static func stateDict(_ config: WanVAEConfig, seed: UInt64, keep: (String) -> Bool = { _ in true }) throws -> [NamedTensor] {
        var out: [NamedTensor] = []
        var start: UInt64 = 0
        for (name, shape) in config.parameterShapes {
            let n = shape.reduce(1, *)
            guard keep(name) else {
                start &+= UInt64(n)
                continue
            }
            let t = try Tensor.hostEmpty(shape, dtype: .f32)
            let p = try t.hostBuffer().base.assumingMemoryBound(to: Float.self)
            enum Rule { case gamma, bias, weight(Float) }
            let rule: Rule
            if name.hasSuffix(".gamma") {
                rule = .gamma
            } else if name.hasSuffix(".bias") {
                rule = .bias
            } else {
                let fanIn = shape[1] * shape[2...].reduce(1, *)
                let gain = name.hasSuffix("to_qkv.weight") ? 2.0 : 1.0
                rule = .weight(Float(gain / Double(fanIn).squareRoot()))
            }
            let base = start
            // Counter-based: any element can be computed independently, so split the work.
            let pointer = UncheckedSendable(p)
            parallelRanges(n) { r in
                for i in r {
                    let z = splitmix64(seed, base &+ UInt64(i))
                    let u = Float(z >> 40) * 0x1p-23 - 1
                    switch rule {
                    case .gamma: pointer.value[i] = 1 + Float(0.25) * u
                    case .bias: pointer.value[i] = Float(0.05) * u
                    case .weight(let bound): pointer.value[i] = u * bound
                    }
                }
            }
            out.append(NamedTensor(name: name, tensor: t))
            start &+= UInt64(n)
        }
        return out
    }
}

/// Runs body over about 8 contiguous ranges of 0..<n concurrently (Models has no access to the
/// CPU backend's thread pool; Dispatch is enough for load-time work).
func parallelRanges(_ n: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let pieces = n < 1 << 16 ? 1 : 8
    let size = (n + pieces - 1) / max(pieces, 1)
    if pieces == 1 { body(0..<n); return }
    DispatchQueue.concurrentPerform(iterations: pieces) { k in
        let lo = k * size
        if lo < n { body(lo..<min(n, lo + size)) }
    }
}
