import ArgumentParser
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
        let entries = Self.entries(config)
        var header = "{"
        var offset = 0
        for (i, (name, shape, _)) in entries.enumerated() {
            let bytes = shape.reduce(2, *)
            header += (i > 0 ? "," : "") + "\"\(name)\":{\"dtype\":\"BF16\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        let temp = output + ".partial"
        guard FileManager.default.createFile(atPath: temp, contents: nil), let file = FileHandle(forWritingAtPath: temp) else {
            throw ValidationError("cannot create \(temp)")
        }
        let start = Date()
        do {
            var length = UInt64(headerBytes.count).littleEndian
            try file.write(contentsOf: withUnsafeBytes(of: &length) { Data($0) })
            try file.write(contentsOf: Data(headerBytes))
            var state = seed &+ 0x9E37_79B9_7F4A_7C15
            let chunk = 1 << 24    // elements per write (32 MiB)
            var buffer = [UInt16](repeating: 0, count: chunk)
            for (_, shape, std) in entries {
                var left = shape.reduce(1, *)
                // Uniform on [−a, a] has std a/√3; std 0 marks a norm weight (all ones).
                let a = std * Float(3).squareRoot() / Float(1 << 31)
                while left > 0 {
                    let n = min(left, chunk)
                    buffer.withUnsafeMutableBufferPointer { p in
                        if std == 0 { p.update(repeating: BF16.bits(1)); return }
                        var i = 0
                        while i < n {
                            // SplitMix64: two 32-bit draws per step.
                            state &+= 0x9E37_79B9_7F4A_7C15
                            var z = state
                            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                            z ^= z >> 31
                            p[i] = BF16.bits(Float(Int32(truncatingIfNeeded: z)) * a)
                            if i + 1 < n { p[i + 1] = BF16.bits(Float(Int32(truncatingIfNeeded: z >> 32)) * a) }
                            i += 2
                        }
                    }
                    try buffer.withUnsafeBytes { try file.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0.baseAddress!),
                                                                                    count: n * 2, deallocator: .none)) }
                    left -= n
                }
            }
            try file.close()
            guard rename(temp, output) == 0 else { throw ValidationError("cannot rename \(temp) to \(output)") }
        } catch {
            try? file.close()
            unlink(temp)
            logLine("error: \(error)")
            throw ExitCode(1)
        }
        logLine(String(format: "wrote %@ (%.2f GB, %d layers) in %.1f s", output, Double(offset) / 1e9, layers, Date().timeIntervalSince(start)))
    }
}
