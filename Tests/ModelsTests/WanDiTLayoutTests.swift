import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// The published key layouts (used to synthesise full-size checkpoints) agree with the loader.
@Suite struct WanDiTLayoutTests {
    let tiny = WanDiTConfig(dim: 64, ffnDim: 96, numHeads: 1, numLayers: 2, inChannels: 36, outChannels: 16,
                            textDim: 32, textLength: 8)

    func tensors(_ layout: WanDiTConfig.Layout) throws -> [NamedTensor] {
        try tiny.checkpointTensors(layout).map { key, shape in
            let n = shape.reduce(1, *)
            return NamedTensor(name: key, tensor: try Tensor.host((0..<n).map { Float($0 % 7) * 0.01 }, shape: shape))
        }
    }

    @Test func officialLayoutLoadsStrictly() throws {
        let t = try tensors(.official)
        #expect(try WanDiTConfig.detect(tensors: t, headDim: 64) == WanDiTConfig(
            dim: 64, ffnDim: 96, numHeads: 1, numLayers: 2, inChannels: 36, outChannels: 16, textDim: 32))
        let model = try WanDiT(WeightStore(t, source: "layout", backend: CPUBackend()), config: tiny)
        #expect(model.loadNotes.isEmpty)
    }

    @Test func turboLayoutLoadsWithEveryAttentionKind() throws {
        let t = try tensors(.turbo)
        for kind in [SelfAttentionKind.original, .sla(topk: 0.5), .sagesla(topk: 0.5)] {
            let model = try WanDiT(WeightStore(t, source: "layout", backend: CPUBackend()), config: tiny, attention: kind)
            #expect(model.loadNotes.count == (kind == .original ? 1 : 0))
        }
    }

    @Test func releasedSizes() {
        // Wan2.1 "1.3B" has 1.42 B parameters and "14B" 14.3 B (patch, text, time, 30/40 blocks, head).
        #expect((1_400_000_000...1_450_000_000).contains(WanDiTConfig.wan21T2V1_3B.parameterCount))
        #expect((14_000_000_000...14_500_000_000).contains(WanDiTConfig.wan21T2V14B.parameterCount))
        #expect(WanDiTConfig.wan22I2VA14B.parameterCount - WanDiTConfig.wan21T2V14B.parameterCount == 5120 * 20 * 4)
    }
}
