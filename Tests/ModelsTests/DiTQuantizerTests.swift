import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

@Suite struct DiTQuantizerTests {
    @Test func quantizedFileRunsLikeQuantizingAtLoad() throws {
        let cpu = CPUBackend()
        let original = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64.safetensors"))
        let quantized = try DiTQuantizer.quantize(original.tensors)
        #expect(quantized.filter { $0.name.hasSuffix(".int8_weight") }.count == 2 * 10)
        #expect(quantized.first { $0.name == "patch_embedding.weight" }?.tensor.shape == [128, 64])

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("q-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter.write(quantized, to: path)
        let reopened = try Checkpoint.open(path: path)
        #expect(reopened.recognition.quantized && reopened.recognition.kind == .turboDiT)

        var config = try WanDiTConfig.detect(tensors: reopened.unprefixedTensors, headDim: 64)
        config.textLength = 16
        let io = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64_io.safetensors"))
        func run(_ tensors: [NamedTensor]) throws -> [Float] {
            let model = try WanDiT(WeightStore(tensors, source: "q", backend: cpu, linearMode: .w8a8), config: config)
            return try model(x: io.tensor("x"), timestep: 988, context: io.tensor("context"), ComputeContext(backend: cpu, dtype: .f32)).floats()
        }
        let fromFile = try run(reopened.tensors), atLoad = try run(original.tensors)
        #expect(fromFile == atLoad)
        // W8A8 stays close to the float model.
        #expect(relativeL2(fromFile, try io.tensor("out").floats()) < 5e-2)
    }

    @Test func refusesWhatItCannotQuantize() throws {
        let q = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_quant_hd128.pth"))
        let e = #expect(throws: ModelLoadError.self) { try DiTQuantizer.quantize(q.tensors) }
        #expect("\(e!)".contains("already quantized"))
        let io = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64_io.safetensors"))
        #expect(throws: ModelLoadError.self) { try DiTQuantizer.quantize(io.tensors) }
        #expect(DiTQuantizer.isQuantizedLayer("blocks.3.cross_attn.o.weight"))
        #expect(!DiTQuantizer.isQuantizedLayer("blocks.3.cross_attn.norm_q.weight"))
        #expect(!DiTQuantizer.isQuantizedLayer("blocks.3.self_attn.attn_op.local_attn.proj_l.weight"))
        #expect(!DiTQuantizer.isQuantizedLayer("head.head.weight"))
    }
}
