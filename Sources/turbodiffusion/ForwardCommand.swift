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

/// `turbodiffusion forward <component>`: run one model component on tensors from a
/// safetensors file, so our numerics can be checked against any other implementation.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Evaluate one model component on inputs from a safetensors file.",
        subcommands: [ForwardDiT.self, ForwardT5.self, ForwardVAEDecode.self, ForwardVAEEncode.self, SyntheticT5.self]
    )
}

struct ForwardDiT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dit",
        abstract: "One Wan DiT forward: reads x [C,F,H,W], t (scalar), context [L,text_dim] from --inputs; writes out [C_out,F,H,W].",
        discussion: """
            The architecture is read from the weights; a config.json beside them (or inside a weights \
            directory) supplies the head count, text length and eps, and must agree with the weights \
            on everything else. Released Wan models use 128-wide heads; pass --num_heads for other models.
            """
    )

    @OptionGroup var files: ForwardFiles

    @Option(name: [.customLong("attention_type"), .customLong("attention-type")], help: "Self-attention: original, sla or sagesla.")
    var attentionType: String = "original"

    @Option(name: [.customLong("sla_topk"), .customLong("sla-topk")], help: "Share of key blocks SLA keeps per query block, in (0, 1].")
    var slaTopk: Double = 0.1

    @Option(name: [.customLong("sla_block_q"), .customLong("sla-block-q")],
            help: "Query block size in tokens (default: 128 for sla, 64 for sagesla, as upstream on Hopper).")
    var slaBlockQ: Int?

    @Option(name: [.customLong("sla_block_k"), .customLong("sla-block-k")],
            help: "Key block size in tokens (default: 64 for sla, 128 for sagesla).")
    var slaBlockK: Int?

    var attention: SelfAttentionKind {
        SelfAttentionKind(name: attentionType, topk: slaTopk, blockQ: slaBlockQ, blockK: slaBlockK) ?? .original
    }

    @Flag(name: [.customLong("quant_linear"), .customLong("quant-linear")],
          help: "Run block Linears as W8A8 (int8 weights and activations, 128×128 blocks).")
    var quantLinear = false

    @Option(name: [.customLong("num_heads"), .customLong("num-heads")], help: "Attention heads (default: config.json's num_heads, else width / 128).")
    var numHeads: Int?

    @Option(name: [.customLong("text_len"), .customLong("text-len")], help: "Rows the text context is padded to (default 512, or config.json's).")
    var textLength: Int?

    func validate() throws {
        guard SelfAttentionKind.names.contains(attentionType) else {
            throw ValidationError("--attention_type must be original, sla or sagesla, got '\(attentionType)'")
        }
        guard slaTopk > 0, slaTopk <= 1 else { throw ValidationError("--sla_topk must lie in (0, 1], got \(slaTopk)") }
        guard (slaBlockQ ?? 1) > 0, (slaBlockK ?? 1) > 0 else { throw ValidationError("SLA block sizes must be positive") }
        if let numHeads, numHeads <= 0 { throw ValidationError("--num_heads must be positive") }
        if let textLength, textLength <= 0 { throw ValidationError("--text_len must be positive") }
    }

    func run() throws {
        do {
            let backend = try files.device.makeBackend(kernels: files.cudaKernels.kernels)
            let tensors = try files.weightTensors()
            var config = try WanDiTConfig.resolve(tensors: tensors, config: ModelConfigFile.find(for: files.weights[0], besideFiles: true),
                                                  numHeads: numHeads)
            if let textLength { config.textLength = textLength }
            let store = files.store(tensors, on: backend, linearMode: quantLinear ? .w8a8 : .dense)
            if store.isQuantized && !quantLinear {
                logLine("note: the checkpoint is W8A8-quantized; without --quant_linear its weights are dequantized (W = int8·scale)")
            } else if !store.isQuantized && quantLinear {
                logLine("note: the checkpoint is not quantized; --quant_linear quantizes its block Linears while loading")
            }
            let model = try WanDiT(store, config: config, attention: attention)
            logLine("loaded \(config) on \(backend.name), self-attention \(attention)")
            for note in model.loadNotes { logLine("note: \(note)") }

            let io = try Checkpoint.open(path: files.inputs)
            let t = try io.tensor("t").floats()
            guard t.count == 1 else { throw ValidationError("'t' must hold one value, found \(t.count)") }
            let start = Date()
            let out = try model(x: backend.upload(io.tensor("x")), timestep: Double(t[0]),
                                context: backend.upload(io.tensor("context")), ComputeContext(backend: backend, dtype: files.dtype.dtype))
            let host = try backend.toHost(out)
            logLine(String(printf: "forward took %.2f s; out %@", Date().timeIntervalSince(start), "\(host.shape)"))
            try files.writeOutput(host)
        } catch let e as ValidationError {
            throw e
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}

