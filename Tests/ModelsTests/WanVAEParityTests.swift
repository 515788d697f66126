import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// Golden tests: our WanVAE against the reference `WanVAE_` (wan22 vae2_1.py) at reduced width
/// (dim 8, the released structure otherwise) with seeded weights both sides generate
/// (scripts/reference/make_vae_fixtures.py); the reference's key set at full width is checked too.
@Suite struct WanVAEParityTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String, seed: UInt64, decode: Bool
        var description: String { name }
    }

    static let cases = [
        Case(name: "dec_square", seed: 1, decode: true),
        Case(name: "dec_wide", seed: 2, decode: true),
        Case(name: "enc_square", seed: 3, decode: false),
        Case(name: "enc_wide", seed: 4, decode: false),
    ]
    static let config = WanVAEConfig(dim: 8, zDim: 16)

    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw ModelLoadError.unsupported("missing fixture \(name)")
        }
        return url.path
    }

    static func model(seed: UInt64, dtype: DType, parts: WanVAE.Parts = .all, config: WanVAEConfig = config) throws -> WanVAE {
        let weights = try WanVAERandomWeights.stateDict(config, seed: seed)
        return try WanVAE(WeightStore(weights, source: "seed \(seed)", backend: CPUBackend(), matrixType: dtype), config: config, parts: parts)
    }

    func run(_ c: Case, dtype: DType, streaming: VAEStreaming = .reference) throws -> (ours: Tensor, reference: Tensor) {
        let cpu = CPUBackend()
        let vae = try Self.model(seed: c.seed, dtype: dtype, parts: c.decode ? .decoder : .encoder)
        let io = try Checkpoint.open(path: Self.fixture("vae_\(c.name)_io.safetensors"))
        let ctx = ComputeContext(backend: cpu, dtype: dtype)
        if c.decode {
            return (try vae.decode(io.tensor("z"), ctx, streaming: streaming), try io.tensor("video"))
        }
        return (try vae.encode(io.tensor("video"), ctx, streaming: streaming), try io.tensor("z"))
    }

    @Test(arguments: cases)
    func float32MatchesReference(_ c: Case) throws {
        let r = try run(c, dtype: .f32)
        #expect(r.ours.shape == r.reference.shape)
        let err = relativeL2(try r.ours.floats(), try r.reference.floats())
        print("VAE f32 \(c.name): \(err)")
        #expect(err <= 1e-4, "\(c.name): relative L2 error \(err)")
    }

    @Test(arguments: cases)
    func bfloat16WithinTolerance(_ c: Case) throws {
        let r = try run(c, dtype: .bf16)
        #expect(r.ours.shape == r.reference.shape)
        let err = relativeL2(try r.ours.floats(), try r.reference.floats())
        print("VAE bf16 \(c.name): \(err)")
        #expect(err <= 2e-2, "\(c.name): relative L2 error \(err)")
        #expect(err > 0, "the bf16 path must actually round")
    }

    /// The key set and shapes of the released checkpoint (from the reference module at dim 96).
    @Test func keySetMatchesTheReleasedCheckpoint() throws {
        let text = try String(contentsOfFile: Self.fixture("vae_keys_dim96.txt"), encoding: .utf8)
        let reference = text.split(separator: "\n").map { line -> String in String(line) }
        let ours = WanVAEConfig.wan21.parameterShapes.map { "\($0.name) \($0.shape.map(String.init).joined(separator: ","))" }
        #expect(ours == reference)
        #expect(reference.count == 194)
    }

    /// The full key set loads (shapes only: stride-0 views of one float, nothing allocated).
    @Test func releasedLayoutLoadsStrictly() throws {
        let one = try Tensor.host([0.5], shape: [1])
        let tensors = try WanVAEConfig.wan21.parameterShapes.map { NamedTensor(name: $0.name, tensor: try one.expanded(to: $0.shape)) }
        #expect(try WanVAEConfig.detect(tensors: tensors) == .wan21)
        let vae = try WanVAE(WeightStore(tensors, source: "shapes", backend: CPUBackend()), config: .wan21)
        #expect(vae.loadNotes.isEmpty)
        let decoderOnly = try WanVAE(WeightStore(tensors, source: "shapes", backend: CPUBackend()), config: .wan21, parts: .decoder)
        #expect(decoderOnly.loadNotes.count == 1 && decoderOnly.loadNotes[0].contains("encoder"))
    }

    @Test func strictLoadingNamesTheProblem() throws {
        let cpu = CPUBackend()
        let c = Self.config
        let weights = try WanVAERandomWeights.stateDict(c, seed: 9)
        let missing = weights.filter { $0.name != "decoder.upsamples.7.time_conv.bias" }
        let e1 = #expect(throws: ModelLoadError.self) { try WanVAE(WeightStore(missing, source: "m", backend: cpu), config: c) }
        #expect("\(e1!)".contains("'decoder.upsamples.7.time_conv.bias'") && "\(e1!)".contains("[64]"))

        let extra = weights + [NamedTensor(name: "decoder.surprise", tensor: try Tensor.host([1], shape: [1]))]
        let e2 = #expect(throws: ModelLoadError.self) { try WanVAE(WeightStore(extra, source: "m", backend: cpu), config: c) }
        #expect("\(e2!)".contains("'decoder.surprise'"))

        let wide = WanVAEConfig(dim: 16, zDim: 16)
        let e3 = #expect(throws: ModelLoadError.self) { try WanVAE(WeightStore(weights, source: "m", backend: cpu), config: wide) }
        #expect("\(e3!)".contains("encoder.conv1.weight") && "\(e3!)".contains("[8, 3, 3, 3, 3]") && "\(e3!)".contains("[16, 3, 3, 3, 3]"))
    }
}
