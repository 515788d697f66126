import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// SageSLA against the PyTorch transcription in scripts/reference/sla_reference.py (`sagesla`).
@Suite struct SageSLATests {
    func opFixture() throws -> (Checkpoint, topk: Double, blockQ: Int, blockK: Int) {
        let f = try Checkpoint.open(path: WanDiTParityTests.fixture("sagesla_op.safetensors"))
        let s = try f.tensor("settings").floats()
        return (f, Double(s[0]), Int(s[1]), Int(s[2]))
    }

    @Test func operatorMatchesReference() throws {
        let cpu = CPUBackend()
        let (f, topk, bq, bk) = try opFixture()
        let projection = Linear(weight: try f.tensor("proj_w"), bias: try f.tensor("proj_b"))
        let sage = SparseLinearAttention(projection: projection, topk: topk, blockQ: bq, blockK: bk, quantized: true)
        let ctx = ComputeContext(backend: cpu, dtype: .f32)
        let out = try sage(q: f.tensor("q"), k: f.tensor("k"), v: f.tensor("v"), ctx).floats()
        let reference = try f.tensor("out").floats()
        let err = relativeL2(out, reference)
        #expect(err <= 1e-4, "relative L2 error \(err)")

        // The 8-bit branch really quantizes: exact SLA on the same inputs is measurably different.
        let exact = SparseLinearAttention(projection: projection, topk: topk, blockQ: bq, blockK: bk)
        let exactOut = try exact(q: f.tensor("q"), k: f.tensor("k"), v: f.tensor("v"), ctx).floats()
        let gap = relativeL2(exactOut, reference)
        #expect(gap > 10 * err && gap < 0.1, "SageSLA vs SLA \(gap)")
    }

    @Test func ditWithSageSLAMatchesReference() throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_sla_hd64.pth"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: 64)
        config.textLength = 16
        let model = try WanDiT(WeightStore(ckpt, backend: cpu), config: config,
                               attention: .sagesla(topk: 0.25, blockQ: 16, blockK: 8))
        let io = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_sla_hd64_sagesla_io.safetensors"))
        let out = try model(x: io.tensor("x"), timestep: Double(try io.tensor("t").floats()[0]), context: io.tensor("context"),
                            ComputeContext(backend: cpu, dtype: .f32))
        let err = relativeL2(try out.floats(), try io.tensor("out").floats())
        #expect(err <= 1e-3, "relative L2 error \(err)")
    }
}
