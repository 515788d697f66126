import Testing
import TensorCore
@testable import Checkpoints

@Suite struct ModelRecognitionTests {
    @Test func officialWanDiT() throws {
        let r = try Checkpoint.open(path: Fixtures.path("kind_wan_dit.safetensors")).recognition
        #expect(r.kind == .wanDiT)
        #expect(r.dim == 8 && r.layers == 2 && r.inChannels == 16 && r.outChannels == 16)
        #expect(r.ffnDim == 12 && r.textDim == 6 && !r.quantized && r.keyPrefix == "")
    }

    @Test func turboDiffusionQuantizedWithPrefix() throws {
        let r = try Checkpoint.open(path: Fixtures.path("kind_turbo_dit_int8.pth")).recognition
        #expect(r.kind == .turboDiT)
        #expect(r.keyPrefix == "net.")
        #expect(r.quantized && r.quantizedLayers == 10)
        #expect(r.dim == 8 && r.layers == 2 && r.inChannels == 36 && r.ffnDim == 12)
        #expect(r.summary.contains("int8 block-quantized"))
    }

    @Test func umT5Encoder() throws {
        let r = try Checkpoint.open(path: Fixtures.path("kind_umt5.pth")).recognition
        #expect(r.kind == .umt5Encoder)
        #expect(r.vocabSize == 20 && r.dim == 8 && r.layers == 2 && r.heads == 4 && r.ffnDim == 12)
    }

    @Test func wanVAE() throws {
        let r = try Checkpoint.open(path: Fixtures.path("kind_wan_vae.pth")).recognition
        #expect(r.kind == .wanVAE)
        #expect(r.dim == 4 && r.zDim == 3 && r.inChannels == 3 && r.outChannels == 3)
    }

    @Test func unknownWeights() throws {
        let r = try Checkpoint.open(path: Fixtures.path("all_dtypes.pth")).recognition
        #expect(r.kind == .unknown && r.facts.isEmpty)
    }

    @Test func publishedConfigurationsAreNamed() {
        var keys: [(name: String, shape: [Int], dtype: DType)] = [("patch_embedding.weight", [1536, 16, 1, 2, 2], .bf16)]
        for i in 0 ..< 30 { keys.append(("blocks.\(i).self_attn.q.weight", [1536, 1536], .bf16)) }
        let r = ModelRecognition(keys)
        #expect(r.kind == .wanDiT && r.heads == 12 && r.layers == 30)
        #expect(r.facts.contains("matches Wan2.1-T2V-1.3B"))

        var i2v: [(name: String, shape: [Int], dtype: DType)] = [("model.patch_embedding.weight", [5120, 144], .bf16)]
        for i in 0 ..< 40 { i2v.append(("model.blocks.\(i).ffn.0.int8_weight", [13824, 5120], .i8)) }
        for i in 0 ..< 40 { i2v.append(("model.blocks.\(i).ffn.0.scale", [108, 40], .f32)) }
        let t = ModelRecognition(i2v)
        #expect(t.kind == .turboDiT && t.keyPrefix == "model." && t.inChannels == 36 && t.ffnDim == 13824)
        #expect(t.quantizedLayers == 40)
        #expect(t.facts.contains("matches Wan2.2-I2V-A14B (one expert)"))
    }

    @Test func projLMarksTurboLayoutEvenWithA5DPatch() {
        let r = ModelRecognition([("patch_embedding.weight", [8, 16, 1, 2, 2], .f32),
                                  ("blocks.0.self_attn.attn_op.local_attn.proj_l.weight", [128, 128], .f32)])
        #expect(r.kind == .turboDiT)
    }
}
