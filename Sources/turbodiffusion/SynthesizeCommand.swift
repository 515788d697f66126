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

/// `turbodiffusion synthesize`: a complete model set of seeded random weights at full size, in the
/// released files' key layouts, so the whole pipeline runs at real shapes without the downloads.
struct SynthesizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthesize",
        abstract: "Write a full-size model set (DiT(s), umT5-XXL, VAE, tokenizer) of seeded random weights.",
        discussion: """
            Files in --dir: dit.safetensors (T2V presets) or high_noise.safetensors + low_noise.safetensors \
            (wan2.2-i2v-a14b), in TurboDiffusion's layout (SLA projections included), bf16, or W8A8 \
            (int8_weight + scale per block Linear) with --quant; umt5-xxl.safetensors (bf16, 11.4 GB; skipped \
            with --no-text-encoder); vae.safetensors (f32); tokenizer/spiece.model copied from --tokenizer. \
            Sizes: 1.3B 2.8 GB, 14B 28.6 GB per expert (14.5 GB quantized). Values carry no meaning: \
            videos are noise, every op sees the real shapes. The command prints the t2v/i2v line that uses them.
            """)

    @Option(help: "Model set: \(BenchDiTMemory.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: BenchDiTMemory.Preset = .wan21_1_3b

    @Option(help: "Folder to write into (created).")
    var dir: String

    @Flag(help: "Write the DiT(s) W8A8-quantized (the -quant checkpoints' layout).")
    var quant = false

    @Flag(name: .customLong("no-text-encoder"), help: "Skip the 11.4 GB umT5-XXL file.")
    var noTextEncoder = false

    @Option(help: "A SentencePiece tokenizer file to copy beside the models.")
    var tokenizer = "models/demo/spiece.model"

    @Option(help: "Seed of every file's values.")
    var seed: UInt64 = 1

    @Option(help: "DiT blocks (default: the preset's; fewer for a quick try).")
    var layers: Int?

    func validate() throws {
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1") }
        guard FileManager.default.fileExists(atPath: tokenizer) else {
            throw ValidationError("no tokenizer at \(tokenizer); pass --tokenizer PATH/spiece.model (e.g. google/umt5-xxl's)")
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = preset.config
        if let layers { config.numLayers = layers }
        let ditFiles = preset == .wan22_i2v_a14b ? ["high_noise.safetensors", "low_noise.safetensors"] : ["dit.safetensors"]
        for (k, name) in ditFiles.enumerated() {
            try Self.writeDiT(config, seed: seed &+ UInt64(k), quantized: quant, to: "\(dir)/\(name)")
        }
        if !noTextEncoder { try SyntheticT5.write(.umt5XXL, seed: seed, to: "\(dir)/umt5-xxl.safetensors") }
        let vae = try WanVAERandomWeights.stateDict(.wan21, seed: seed)
        try SafetensorsWriter.write(vae, to: "\(dir)/vae.safetensors")
        logLine("wrote \(dir)/vae.safetensors")
        try FileManager.default.createDirectory(atPath: "\(dir)/tokenizer", withIntermediateDirectories: true)
        let spiece = "\(dir)/tokenizer/spiece.model"
        try? FileManager.default.removeItem(atPath: spiece)
        try FileManager.default.copyItem(atPath: tokenizer, toPath: spiece)
        let shared = "--vae_path \(dir)/vae.safetensors --text_encoder_path \(dir)/umt5-xxl.safetensors --tokenizer_path \(dir)/tokenizer"
            + (quant ? " --quant_linear" : "")
        if preset == .wan22_i2v_a14b {
            print("turbodiffusion i2v --prompt \"…\" --image_path IMAGE --high_noise_model_path \(dir)/high_noise.safetensors --low_noise_model_path \(dir)/low_noise.safetensors \(shared)")
        } else {
            print("turbodiffusion t2v --prompt \"…\" --model \(preset == .wan21_14b ? "Wan2.1-14B" : "Wan2.1-1.3B") --dit_path \(dir)/dit.safetensors \(shared)")
        }
    }

    /// Block Linears W8A8 applies to (their weight becomes int8_weight + scale).
    static func isQuantizable(_ key: String) -> Bool {
        guard key.hasPrefix("blocks."), key.hasSuffix(".weight") else { return false }
        return [".self_attn.q.", ".self_attn.k.", ".self_attn.v.", ".self_attn.o.", ".cross_attn.q.", ".cross_attn.k.",
                ".cross_attn.v.", ".cross_attn.o.", ".ffn.0.", ".ffn.2."].contains { key.contains($0) }
    }

    /// Streams one DiT file; each tensor is made (and quantized) when the writer reaches it.
    static func writeDiT(_ config: WanDiTConfig, seed: UInt64, quantized: Bool, to path: String) throws {
        let entries = WanDiTRandomWeights.entries(config, layout: .turbo)
        var specs: [(name: String, dtype: DType, shape: [Int])] = []
        var source: [(entry: Int, part: Int)] = []     // part 0: as stored, 1: int8 values, 2: scales
        for (i, e) in entries.enumerated() {
            if quantized && isQuantizable(e.key) {
                let base = String(e.key.dropLast(".weight".count)), blk = BlockQuantization.block
                specs.append(("\(base).int8_weight", .i8, e.shape))
                specs.append(("\(base).scale", .f32, [(e.shape[0] + blk - 1) / blk, (e.shape[1] + blk - 1) / blk]))
                source += [(i, 1), (i, 2)]
            } else {
                specs.append((e.key, .bf16, e.shape))
                source.append((i, 0))
            }
        }
        let bytes = specs.reduce(0) { $0 + $1.shape.reduce(1, *) * $1.dtype.byteSize }
        let start = Date()
        var current = -1
        var data: [UInt8] = []
        try SafetensorsWriter.write(streaming: specs, to: path) { index, chunk, at in
            if index != current {
                current = index
                let (e, part) = (entries[source[index].entry], source[index].part)
                if part == 0 {
                    data = [UInt8](repeating: 0, count: e.shape.reduce(1, *) * 2)
                    data.withUnsafeMutableBytes {
                        WanDiTRandomWeights.fill(key: e.key, shape: e.shape, start: e.start, seed: seed, into: $0.baseAddress!, dtype: .bf16)
                    }
                } else {
                    var values = [Float](repeating: 0, count: e.shape.reduce(1, *))
                    values.withUnsafeMutableBytes {
                        WanDiTRandomWeights.fill(key: e.key, shape: e.shape, start: e.start, seed: seed, into: $0.baseAddress!, dtype: .f32)
                    }
                    let q = values.withUnsafeBufferPointer { BlockQuantization.quantizeParallel($0.baseAddress!, rows: e.shape[0], cols: e.shape[1]) }
                    data = part == 1 ? q.values.map { UInt8(bitPattern: $0) } : q.scales.withUnsafeBytes { Array($0) }
                }
            }
            data.withUnsafeBytes { chunk.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<(at + chunk.count)])) }
        }
        logLine(String(printf: "wrote %@ (%.2f GB%@) in %.1f s", path, Double(bytes) / 1e9, quantized ? ", W8A8" : "", Date().timeIntervalSince(start)))
    }
}
