import ArgumentParser
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import TensorCore

/// `turbodiffusion forward t5-synthetic` (hidden): writes a full-size umT5-XXL checkpoint of
/// random bf16 values (safetensors, the real file's key set) by streaming, so the encoder's
/// memory and time can be measured without the 11 GB download. The values are
/// `UMT5RandomWeights`' (scripts/reference/t5_synthetic.py reproduces them).
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

    func run() throws {
        var config = UMT5Config.umt5XXL
        config.numLayers = layers
        try Self.write(config, seed: seed, to: output)
    }

    /// Writes a random checkpoint of `config` to `output`.
    static func write(_ config: UMT5Config, seed: UInt64, to output: String) throws {
        let entries = UMT5RandomWeights.entries(config)
        let starts = UMT5RandomWeights.drawStarts(entries)
        let specs = entries.map { (name: $0.key, dtype: DType.bf16, shape: $0.shape) }
        let bytes = specs.reduce(0) { $0 + $1.shape.reduce(2, *) }
        let start = Date()
        // `at` is the chunk's byte offset in its tensor; chunks hold an even number of elements.
        try SafetensorsWriter.write(streaming: specs, to: output) { index, chunk, at in
            let p = chunk.bindMemory(to: UInt16.self)
            UMT5RandomWeights.fill(std: entries[index].std, drawStart: starts[index], first: at / 2, seed: seed, into: p)
        }
        logLine(String(printf: "wrote %@ (%.2f GB, %d layers) in %.1f s", output, Double(bytes) / 1e9, config.numLayers, Date().timeIntervalSince(start)))
    }
}
