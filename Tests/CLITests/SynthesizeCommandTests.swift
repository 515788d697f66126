import Checkpoints
import Foundation
import Testing

/// `turbodiffusion synthesize`: the files load as the models they stand for.
@Suite struct SynthesizeCommandTests {
    @Test func writesAQuantizedDiTAndAVAEThatLoad() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("td-synth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let r = try CLI.run(["synthesize", "--dir", dir.path, "--quant", "--layers", "1", "--no-text-encoder",
                             "--tokenizer", repo.appendingPathComponent("models/demo/spiece.model").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("turbodiffusion t2v") && r.stdout.contains("--quant_linear"))
        let dit = try Checkpoint.open(path: dir.appendingPathComponent("dit.safetensors").path)
        #expect(dit.recognition.kind == .turboDiT && dit.recognition.quantized)
        let names = Set(dit.tensors.map(\.name))
        #expect(names.contains("blocks.0.ffn.0.int8_weight") && names.contains("blocks.0.ffn.0.scale")
                && names.contains("blocks.0.self_attn.attn_op.local_attn.proj_l.weight") && !names.contains("blocks.0.ffn.0.weight"))
        let vae = try Checkpoint.open(path: dir.appendingPathComponent("vae.safetensors").path)
        #expect(vae.recognition.kind == .wanVAE)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer/spiece.model").path))
        let info = try CLI.run(["info", dir.appendingPathComponent("dit.safetensors").path])
        #expect(info.stdout.contains("matches Wan2.1-T2V-1.3B") || info.stdout.contains("dim 1536"), "\(info.stdout)")
    }
}
