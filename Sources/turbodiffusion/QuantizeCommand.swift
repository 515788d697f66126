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

/// `turbodiffusion quantize IN… OUT`: write a W8A8-quantized TurboDiffusion-layout DiT.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a bf16/fp32 Wan DiT to TurboDiffusion's int8 layout (load it with --quant_linear).",
        discussion: """
            Block Linears (q, k, v, o of both attentions, ffn.0, ffn.2) become int8_weight + scale \
            (128×128 blocks, scale = amax/128); the rest is kept. The output is a safetensors file \
            with TurboDiffusion's key names, written atomically.
            """
    )

    @Argument(help: "Input checkpoint(s) followed by the output path (.safetensors).")
    var paths: [String]

    func validate() throws {
        guard paths.count >= 2 else { throw ValidationError("give the input checkpoint(s) and then the output path") }
        guard let out = paths.last, out.hasSuffix(".safetensors") else {
            throw ValidationError("the output path must end in .safetensors (the quantized file is written as safetensors)")
        }
        if paths.dropLast().contains(paths.last!) { throw ValidationError("the output would overwrite an input") }
    }

    func run() throws {
        do {
            let inputs = try paths.dropLast().map { try Checkpoint.open(path: $0) }
            let tensors = NamedTensor.stripping(inputs[0].recognition.keyPrefix, from: inputs.flatMap(\.tensors))
            let start = Date()
            var lastReport = Date.distantPast
            let quantized = try DiTQuantizer.quantize(tensors) { done, total in
                if Date().timeIntervalSince(lastReport) > 1 || done == total {
                    lastReport = Date()
                    logLine("quantizing: \(done)/\(total) tensors")
                }
            }
            let output = paths.last!
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: output).deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try SafetensorsWriter.write(quantized, to: output, metadata: ["format": "pt", "quantization": "w8a8-block128"])
            let layers = quantized.filter { $0.name.hasSuffix(".int8_weight") }.count
            logLine(String(printf: "wrote %@: %d int8 layers in %.1f s", output, layers, Date().timeIntervalSince(start)))
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}
