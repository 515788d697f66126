import ArgumentParser
import Checkpoints
import Foundation
import Models
import TensorCore

/// `turbodiffusion forward t5-synthetic` (hidden): writes a full-size umT5-XXL checkpoint of
/// random bf16 values (safetensors, the real file's key set) by streaming, so the encoder's
/// memory and time can be measured without the 11 GB download. Values are uniform with the
/// standard deviations of the reference's `init_weights` (t5.py: embedding 1, q 1/√(dim·dim_attn)
/// (T5 folds the attention scale into q), k/v/gate/fc1 1/√dim, o 1/√(heads·dim_attn), fc2 1/√ffn,
/// position tables 1/√(2·buckets·heads), norms 1); they carry no meaning.
/// The generator is SplitMix64; scripts/reference/t5_synthetic.py reproduces the same values.
struct SyntheticT5: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t5-synthetic",
        abstract: "Write a random bf16 umT5-XXL checkpoint (for memory/time measurements).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "Where to write the safetensors file (about 11.4 GB at full size).")
    var output: String

    @Option(name: .long, help: "Encoder blocks (24 in umT5-XXL; fewer for a quick try).")
    var layers: Int = 24

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 0

    func validate() throws {
        guard layers >= 1 else { throw ValidationError("--layers must be at least 1") }
    }

    /// (key, shape, standard deviation) in the order of the real file.
    static func entries(_ c: UMT5Config) -> [(String, [Int], Float)] {
        let (d, a, f) = (c.dim, c.attentionDim, c.ffnDim)
        func inv(_ x: Int) -> Float { 1 / Float(x).squareRoot() }
        var out: [(String, [Int], Float)] = [("token_embedding.weight", [c.vocabSize, d], 1)]
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

    func run() throws {
        var config = UMT5Config.umt5XXL
        config.numLayers = layers
        try Self.write(config, seed: seed, to: output)
    }

    /// Writes a random checkpoint of `config` to `output`.
    static func write(_ config: UMT5Config, seed: UInt64, to output: String) throws {
        let entries = Self.entries(config)
        let specs = entries.map { (name: $0.0, dtype: DType.bf16, shape: $0.1) }
        let bytes = specs.reduce(0) { $0 + $1.shape.reduce(2, *) }
        let start = Date()
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        // Tensors are filled in file order (all bf16, so the writer keeps it), in chunks of an
        // even number of elements: the draw sequence does not depend on the chunking.
        try SafetensorsWriter.write(streaming: specs, to: output) { index, chunk, _ in
            let std = entries[index].2
            let p = chunk.bindMemory(to: UInt16.self)
            // std 0 marks a norm weight: all ones.
            if std == 0 { p.update(repeating: BF16.bits(1)); return }
            // Uniform on [−a, a] has std a/√3; draws are int32, so a/2³¹ scales them.
            let a = std * Float(3).squareRoot() / Float(1 << 31)
            var i = 0
            while i + 1 < p.count {
                // SplitMix64: two 32-bit draws per step, low half first.
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                p[i] = BF16.bits(Float(Int32(truncatingIfNeeded: z)) * a)
                p[i + 1] = BF16.bits(Float(Int32(truncatingIfNeeded: z >> 32)) * a)
                i += 2
            }
        }
        logLine(String(format: "wrote %@ (%.2f GB, %d layers) in %.1f s", output, Double(bytes) / 1e9, config.numLayers, Date().timeIntervalSince(start)))
    }
}
