import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// Golden tests: our UMT5Encoder against the reference wan/modules/t5.py T5Encoder on tiny
/// random configs, fp32 and bf16, with and without padding (fixtures written by
/// scripts/reference/make_t5_fixtures.py; weights stored like the real bf16 .pth).
@Suite struct UMT5ParityTests {
    struct Case: CustomStringConvertible, Sendable {
        let model: String, input: String
        var description: String { "\(model)/\(input)" }
    }

    static let cases = [
        Case(model: "tiny", input: "padded"),     // L 140 (distances past max_dist 128), 97 real tokens, i64 mask
        Case(model: "tiny", input: "unpadded"),   // L 23, no mask
        Case(model: "wide", input: "holes"),      // dim 96 ≠ attention width 128, 16 buckets, 9 scattered zeros, u8 mask
        Case(model: "wide", input: "padded"),     // L 30, 11 real tokens, i32 mask
    ]

    static func fixture(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw ModelLoadError.unsupported("missing fixture \(name)")
        }
        return url.path
    }

    static func load(_ model: String, backend: CPUBackend, dtype: DType) throws -> UMT5Encoder {
        let ckpt = try Checkpoint.open(path: fixture("t5_\(model).pth"))
        let config = try UMT5Config.detect(tensors: ckpt.unprefixedTensors)
        return try UMT5Encoder(WeightStore(ckpt, backend: backend, matrixType: dtype), config: config)
    }

    static func inputs(_ c: Case) throws -> (tokens: TokenSequence, io: Checkpoint) {
        let io = try Checkpoint.open(path: fixture("t5_\(c.model)_\(c.input)_io.safetensors"))
        return (try TokenSequence(ids: io.tensor("ids"), mask: io["mask"]), io)
    }

    func runFull(_ c: Case, dtype: DType) throws -> (ours: [Float], reference: [Float]) {
        let cpu = CPUBackend()
        let encoder = try Self.load(c.model, backend: cpu, dtype: dtype)
        let (tokens, io) = try Self.inputs(c)
        let keep = io["mask"] == nil ? nil : tokens.mask
        let out = try encoder(ids: tokens.ids, keep: keep, ComputeContext(backend: cpu, dtype: dtype))
        let ref = try io.tensor(dtype == .f32 ? "out_f32" : "out_bf16")
        #expect(out.shape == ref.shape && out.dtype == dtype)
        return (try out.floats(), try ref.floats())
    }

    @Test(arguments: cases)
    func float32MatchesReference(_ c: Case) throws {
        let r = try runFull(c, dtype: .f32)
        let err = relativeL2(r.ours, r.reference)
        #expect(err <= 1e-4, "\(c): relative L2 error \(err)")
    }

    @Test(arguments: cases)
    func bfloat16WithinTolerance(_ c: Case) throws {
        let r = try runFull(c, dtype: .bf16)
        let err = relativeL2(r.ours, r.reference)
        // The task's bound is 2e-2. We replay the reference's bf16 roundings (logits, probabilities,
        // the GELU chain) and stay near 1e-3, so hold to 5e-3: a single-rounding GELU alone
        // drifts to ~1e-2 and would go unnoticed under 2e-2.
        #expect(err <= 5e-3, "\(c): relative L2 error \(err)")
        #expect(err > 0, "the bf16 path must actually round")
    }

    /// encode() keeps the real rows only; with a prefix mask it runs just those tokens.
    @Test(arguments: cases)
    func encodeReturnsTheRealRows(_ c: Case) throws {
        let cpu = CPUBackend()
        let encoder = try Self.load(c.model, backend: cpu, dtype: .f32)
        let (tokens, io) = try Self.inputs(c)
        let out = try encoder.encode(tokens, ComputeContext(backend: cpu, dtype: .f32))
        let n = tokens.realLength, dim = encoder.config.dim
        #expect(out.shape == [n, dim])
        let ref = try io.tensor("out_f32").narrowed(dim: 0, start: 0, length: n).floats()
        let err = relativeL2(try out.floats(), ref)
        #expect(err <= 1e-4, "\(c): relative L2 error \(err) over the \(n) real rows")
    }

    @Test func bucketsMatchReference() throws {
        let io = try Checkpoint.open(path: Self.fixture("t5_buckets.safetensors"))
        let rel = try io.tensor("rel").int64s()
        for buckets in [32, 16] {
            let expected = try io.tensor("bucket\(buckets)").int64s()
            for (r, e) in zip(rel, expected) {
                let got = RelativePositionBias.bucket(Int(r), numBuckets: buckets, maxDistance: 128)
                #expect(got == Int(e), "rel \(r), \(buckets) buckets: \(got), reference \(e)")
            }
        }
    }

    @Test func biasRowsAndMask() throws {
        // 2 heads, 4 buckets (2 per side, max_exact 1): table[b, h] = 10·b + h.
        let table: [Float] = [0, 1, 10, 11, 20, 21, 30, 31]
        for dtype in [DType.f32, .bf16] {
            let t = try RelativePositionBias.bias(table: table, heads: 2, length: 3, keep: [true, false, true], numBuckets: 4,
                                                  maxDistance: 128, dtype: dtype)
            let v = try t.floats()
            let fill = RelativePositionBias.maskValue(dtype)
            #expect(fill.isFinite && fill < -3e38)
            func at(_ h: Int, _ i: Int, _ j: Int) -> Float { v[(h * 3 + i) * 3 + j] }
            // rel = j − i: 0 → bucket 0; −1, −2 → bucket 1; +2 → 2 + 1 = 3.
            #expect(at(0, 0, 0) == 0 && at(1, 2, 0) == 11 && at(0, 0, 2) == 30 && at(1, 1, 1) == fill)
            #expect((0..<3).allSatisfy { at(0, $0, 1) == fill && at(1, $0, 1) == fill })
        }
    }

    @Test func detectsConfigsAndPreset() throws {
        let cpu = CPUBackend()
        let tiny = try Self.load("tiny", backend: cpu, dtype: .f32).config
        #expect(tiny == UMT5Config(vocabSize: 300, dim: 64, ffnDim: 160, numHeads: 4, numLayers: 2, numBuckets: 32))
        let wide = try Self.load("wide", backend: cpu, dtype: .f32).config
        #expect(wide.attentionDim == 128 && wide.dim == 96 && wide.headDim == 32 && wide.numBuckets == 16 && wide.numLayers == 3)

        // The real file's shapes give the umT5-XXL preset.
        let x = UMT5Config.umt5XXL
        var shapes: [String: [Int]] = ["token_embedding.weight": [256_384, 4096], "norm.weight": [4096]]
        for i in 0..<24 {
            shapes["blocks.\(i).norm1.weight"] = [4096]
            shapes["blocks.\(i).attn.q.weight"] = [4096, 4096]
            shapes["blocks.\(i).ffn.fc1.weight"] = [10_240, 4096]
            shapes["blocks.\(i).pos_embedding.embedding.weight"] = [32, 64]
        }
        #expect(try UMT5Config.detect(shapes: shapes) == x)
        #expect(x.headDim == 64 && x.maxDistance == 128 && x.eps == 1e-6)
    }

    @Test func strictLoadingNamesTheProblem() throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: Self.fixture("t5_tiny.pth"))
        let config = try UMT5Config.detect(tensors: ckpt.tensors)
        let missing = ckpt.tensors.filter { $0.name != "blocks.1.ffn.gate.0.weight" }
        let e1 = #expect(throws: ModelLoadError.self) { try UMT5Encoder(WeightStore(missing, source: "m", backend: cpu), config: config) }
        #expect("\(e1!)".contains("'blocks.1.ffn.gate.0.weight'") && "\(e1!)".contains("[160, 64]"))

        let extra = ckpt.tensors + [NamedTensor(name: "blocks.0.attn.bias", tensor: try Tensor.host([1], shape: [1]))]
        let e2 = #expect(throws: ModelLoadError.self) { try UMT5Encoder(WeightStore(extra, source: "m", backend: cpu), config: config) }
        #expect("\(e2!)".contains("'blocks.0.attn.bias'"))

        var wrongBuckets = config
        wrongBuckets.numBuckets = 16
        let e3 = #expect(throws: ModelLoadError.self) {
            try UMT5Encoder(WeightStore(ckpt.tensors, source: "m", backend: cpu), config: wrongBuckets)
        }
        #expect("\(e3!)".contains("pos_embedding.embedding.weight") && "\(e3!)".contains("[32, 4]") && "\(e3!)".contains("[16, 4]"))
    }

    @Test func badTokensAreRefused() throws {
        let cpu = CPUBackend()
        let encoder = try Self.load("tiny", backend: cpu, dtype: .f32)
        let ctx = ComputeContext(backend: cpu, dtype: .f32)
        #expect(throws: TensorError.self) { try encoder.encode(TokenSequence(ids: [3, 300]), ctx) }
        #expect(throws: TensorError.self) { try TokenSequence(ids: [1, 2], mask: [true]) }
        let e = #expect(throws: TensorError.self) {
            try TokenSequence(ids: Tensor.host(int64: [1, 2], shape: [2]), mask: Tensor.host([1, 2], shape: [2], dtype: .i32))
        }
        #expect("\(e!)".contains("mask"))
        #expect(throws: TensorError.self) { try TokenSequence(ids: Tensor.host([1, 2], shape: [2]), mask: nil) }
        // No real token: nothing to encode.
        let none = try encoder.encode(TokenSequence(ids: [5, 0], mask: [false, false]), ctx)
        #expect(none.shape == [0, 64])
    }
}

/// The prompt cache: a repeated prompt is served without a forward.
@Suite struct CachedTextEncoderTests {
    /// Counts the forwards that reach the wrapped encoder.
    final class CountingEncoder: TextEncoding {
        let inner: UMT5Encoder
        var calls = 0
        init(_ inner: UMT5Encoder) { self.inner = inner }
        var embeddingDim: Int { inner.embeddingDim }
        func encode(_ tokens: TokenSequence, _ ctx: ComputeContext) throws -> Tensor {
            calls += 1
            return try inner.encode(tokens, ctx)
        }
    }

    @Test func secondCallDoesNoForward() throws {
        let cpu = CPUBackend()
        let counting = CountingEncoder(try UMT5ParityTests.load("tiny", backend: cpu, dtype: .f32))
        let cache = CachedTextEncoder(counting, capacity: 2)
        let ctx = ComputeContext(backend: cpu, dtype: .f32)
        let a = try TokenSequence(ids: [5, 17, 1, 0, 0], mask: [true, true, true, false, false])
        let first = try cache.encode(a, ctx)
        let second = try cache.encode(TokenSequence(ids: [5, 17, 1, 0, 0], mask: [true, true, true, false, false]), ctx)
        #expect(counting.calls == 1 && cache.hits == 1 && cache.misses == 1)
        #expect(try first.floats() == second.floats())

        // A different mask or compute type is a different prompt.
        _ = try cache.encode(TokenSequence(ids: [5, 17, 1, 0, 0], mask: [true, true, true, true, false]), ctx)
        #expect(counting.calls == 2)
        _ = try cache.encode(a, ComputeContext(backend: cpu, dtype: .bf16))
        #expect(counting.calls == 3 && cache.count == 2)

        // LRU: the f32 `a` was evicted by the two newer entries; the bf16 one is still there.
        _ = try cache.encode(a, ComputeContext(backend: cpu, dtype: .bf16))
        #expect(counting.calls == 3)
        _ = try cache.encode(a, ctx)
        #expect(counting.calls == 4 && cache.count == 2)
    }
}
