import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// SLA against the PyTorch transcription in scripts/reference/sla_reference.py.
@Suite struct SparseLinearAttentionTests {
    @Test func blockMapAndOutputMatchReference() throws {
        let cpu = CPUBackend()
        let f = try Checkpoint.open(path: WanDiTParityTests.fixture("sla_op.safetensors"))
        let settings = try f.tensor("settings").floats()
        let (topk, bq, bk) = (Double(settings[0]), Int(settings[1]), Int(settings[2]))
        let q = try f.tensor("q"), k = try f.tensor("k"), v = try f.tensor("v")
        let keyBlocks = (k.shape[2] + bk - 1) / bk
        let keep = SparseLinearAttention.keptBlocks(topk: topk, keyBlocks: keyBlocks)
        #expect(keep == 3)

        // The chosen key blocks, as a 0/1 map, equal the reference's.
        let lut = try cpu.slaBlockMap(q: q, k: k, blockQ: bq, blockK: bk, keep: keep)
        let reference = try f.tensor("block_map")
        var map = [Float](repeating: 0, count: reference.count)
        let ids = try lut.int64s()
        for row in 0..<(ids.count / keep) { for n in 0..<keep { map[row * keyBlocks + Int(ids[row * keep + n])] = 1 } }
        #expect(map == (try reference.floats()))

        let sla = SparseLinearAttention(projection: Linear(weight: try f.tensor("proj_w"), bias: try f.tensor("proj_b")),
                                        topk: topk, blockQ: bq, blockK: bk)
        let out = try sla(q: q, k: k, v: v, ComputeContext(backend: cpu, dtype: .f32))
        let err = relativeL2(try out.floats(), try f.tensor("out").floats())
        #expect(err <= 1e-5, "relative L2 error \(err)")
    }

    @Test func headGroupsGiveTheSameValuesAsOnePass() throws {
        let cpu = CPUBackend()
        let f = try Checkpoint.open(path: WanDiTParityTests.fixture("sla_op.safetensors"))
        let settings = try f.tensor("settings").floats()
        let q = try f.tensor("q"), k = try f.tensor("k"), v = try f.tensor("v")
        #expect(q.shape[1] > 1, "the fixture needs several heads")
        var sla = SparseLinearAttention(projection: Linear(weight: try f.tensor("proj_w"), bias: try f.tensor("proj_b")),
                                        topk: Double(settings[0]), blockQ: Int(settings[1]), blockK: Int(settings[2]))
        let ctx = ComputeContext(backend: cpu, dtype: .f32)
        let whole = try sla(q: q, k: k, v: v, ctx).floats()
        sla.linearGroupBytes = 1                 // one head per group
        let grouped = try sla(q: q, k: k, v: v, ctx)
        #expect(grouped.shape == q.shape)
        #expect(try grouped.floats() == whole)
    }

    @Test func keepsAtLeastOneBlock() {
        #expect(SparseLinearAttention.keptBlocks(topk: 0.1, keyBlocks: 5) == 1)
        #expect(SparseLinearAttention.keptBlocks(topk: 0.1, keyBlocks: 512) == 51)
        #expect(SparseLinearAttention.keptBlocks(topk: 1, keyBlocks: 7) == 7)
    }

    @Test func ditWithSLAMatchesReference() throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_sla_hd64.pth"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: 64)
        config.textLength = 16
        let model = try WanDiT(WeightStore(ckpt, backend: cpu), config: config, attention: .sla(topk: 0.25, blockQ: 16, blockK: 8))
        #expect(model.loadNotes.isEmpty)
        let io = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_sla_hd64_io.safetensors"))
        let out = try model(x: io.tensor("x"), timestep: Double(try io.tensor("t").floats()[0]), context: io.tensor("context"),
                            ComputeContext(backend: cpu, dtype: .f32))
        let err = relativeL2(try out.floats(), try io.tensor("out").floats())
        #expect(err <= 1e-3, "relative L2 error \(err)")

        // The same weights with dense attention differ clearly: the sparse path is really taken.
        let dense = try WanDiT(WeightStore(ckpt, backend: cpu), config: config)
        let denseOut = try dense(x: io.tensor("x"), timestep: Double(try io.tensor("t").floats()[0]), context: io.tensor("context"),
                                 ComputeContext(backend: cpu, dtype: .f32))
        #expect(relativeL2(try denseOut.floats(), try io.tensor("out").floats()) > 1e-2)
    }

    @Test func slaOnWeightsWithoutProjectionIsRefused() throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64.safetensors"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: 64)
        config.textLength = 16
        let e = #expect(throws: ModelLoadError.self) {
            try WanDiT(WeightStore(ckpt, backend: cpu), config: config, attention: .sla(topk: 0.1))
        }
        #expect("\(e!)".contains("proj_l") && "\(e!)".contains("--attention_type original"))
    }
}
