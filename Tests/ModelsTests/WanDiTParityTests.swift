import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// Golden tests: our WanDiT against the reference `wan22` WanModel on tiny random configs
/// (fixtures written by scripts/reference/make_dit_fixtures.py).
@Suite struct WanDiTParityTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String, weights: String, headDim: Int, textLength: Int
        var description: String { name }
    }

    static let cases = [
        Case(name: "t2v_hd64", weights: "dit_t2v_hd64.safetensors", headDim: 64, textLength: 16),
        Case(name: "i2v_hd128", weights: "dit_i2v_hd128.pth", headDim: 128, textLength: 12),
        Case(name: "t2v_bf16_odd", weights: "dit_t2v_bf16_odd.safetensors", headDim: 64, textLength: 16),
    ]

    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw ModelLoadError.unsupported("missing fixture \(name)")
        }
        return url.path
    }

    func load(_ c: Case, backend: CPUBackend, dtype: DType) throws -> WanDiT {
        let ckpt = try Checkpoint.open(path: Self.fixture(c.weights))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: c.headDim)
        config.textLength = c.textLength
        return try WanDiT(WeightStore(ckpt, backend: backend, matrixType: dtype), config: config)
    }

    func run(_ c: Case, dtype: DType) throws -> (ours: [Float], reference: [Float]) {
        let cpu = CPUBackend()
        let model = try load(c, backend: cpu, dtype: dtype)
        let io = try Checkpoint.open(path: Self.fixture("dit_\(c.name)_io.safetensors"))
        let t = try io.tensor("t").floats()[0]
        let out = try model(x: io.tensor("x"), timestep: Double(t), context: io.tensor("context"), ComputeContext(backend: cpu, dtype: dtype))
        let ref = try io.tensor("out")
        #expect(out.shape == ref.shape)
        return (try out.floats(), try ref.floats())
    }

    @Test(arguments: cases)
    func float32MatchesReference(_ c: Case) throws {
        let r = try run(c, dtype: .f32)
        let err = relativeL2(r.ours, r.reference)
        #expect(err <= 1e-4, "\(c.name): relative L2 error \(err)")
    }

    @Test(arguments: cases)
    func bfloat16WithinTolerance(_ c: Case) throws {
        let r = try run(c, dtype: .bf16)
        let err = relativeL2(r.ours, r.reference)
        #expect(err <= 2e-2, "\(c.name): relative L2 error \(err)")
        #expect(err > 0, "the bf16 path must actually round")
    }

    @Test func detectsConfigAndNotesUnusedSLAProjections() throws {
        let cpu = CPUBackend()
        let model = try load(Self.cases[1], backend: cpu, dtype: .f32)
        #expect(model.config.inChannels == 36 && model.config.outChannels == 16 && model.config.numLayers == 2)
        #expect(model.config.headDim == 128 && model.config.ffnDim == 160 && model.config.textDim == 32)
        #expect(model.loadNotes.count == 1 && model.loadNotes[0].contains("proj_l"))
    }

    @Test func strictLoadingNamesTheProblem() throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: Self.fixture("dit_t2v_hd64.safetensors"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: 64)
        config.textLength = 16

        // A missing key.
        let missing = ckpt.tensors.filter { $0.name != "blocks.1.cross_attn.norm_k.weight" }
        let e1 = #expect(throws: ModelLoadError.self) {
            try WanDiT(WeightStore(missing, source: "m", backend: cpu), config: config)
        }
        #expect("\(e1!)".contains("'blocks.1.cross_attn.norm_k.weight'") && "\(e1!)".contains("[128]"))

        // A key the model does not know.
        let extra = ckpt.tensors + [NamedTensor(name: "blocks.0.surprise", tensor: try Tensor.host([1], shape: [1]))]
        let e2 = #expect(throws: ModelLoadError.self) {
            try WanDiT(WeightStore(extra, source: "m", backend: cpu), config: config)
        }
        #expect("\(e2!)".contains("'blocks.0.surprise'"))

        // A wrong width.
        var wide = config
        wide.ffnDim = 200
        let e3 = #expect(throws: ModelLoadError.self) {
            try WanDiT(WeightStore(ckpt.tensors, source: "m", backend: cpu), config: wide)
        }
        #expect("\(e3!)".contains("blocks.0.ffn.0.weight") && "\(e3!)".contains("[192, 128]") && "\(e3!)".contains("[200, 128]"))
    }

    @Test func presetsMatchTheDesign() {
        #expect(WanDiTConfig.wan21T2V1_3B.headDim == 128 && WanDiTConfig.wan21T2V14B.headDim == 128)
        #expect(WanDiTConfig.wan22I2VA14B.inChannels == 36)
        // The sinusoid is [cos, sin] with ω_i = 10000^(−i/half).
        let e = WanDiT.timestepEmbedding(1, dim: 4)
        #expect(abs(e[0] - cos(1)) < 1e-7 && abs(e[1] - cos(0.01)) < 1e-7 && abs(e[2] - sin(1)) < 1e-7)
    }
}

func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        if x.isNaN { return .infinity }
        num += Double(x - y) * Double(x - y)
        den += Double(y) * Double(y)
    }
    return (num / max(den, 1e-30)).squareRoot()
}
