import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// The sequence-parallel DiT forward (docs/multi-gpu.md) against the one-rank forward, with N ranks
/// as N threads over the CPU backend exchanging through `InProcessGroup`.
@Suite struct SequenceParallelDiTTests {
    static let config = WanDiTConfig(dim: 64, ffnDim: 96, numHeads: 4, numLayers: 2, inChannels: 16, outChannels: 16, textDim: 32,
                                     textLength: 8, frequencyDim: 32)

    struct Case: Sendable, CustomTestStringConvertible {
        var ranks: Int
        var attention: SelfAttentionKind
        /// Latent [16, F, H, W].
        var latent: [Int]
        var alignment: Int
        var testDescription: String { "\(ranks) ranks, \(attention), latent \(latent), alignment \(alignment)" }
    }

    static let cases: [Case] = [
        Case(ranks: 2, attention: .original, latent: [16, 2, 8, 8], alignment: 8),
        Case(ranks: 4, attention: .original, latent: [16, 2, 8, 8], alignment: 8),
        Case(ranks: 2, attention: .sla(topk: 0.5, blockQ: 8, blockK: 4), latent: [16, 2, 8, 8], alignment: 8),
        Case(ranks: 4, attention: .sla(topk: 0.5, blockQ: 8, blockK: 4), latent: [16, 2, 8, 8], alignment: 8),
        Case(ranks: 4, attention: .sagesla(topk: 0.5, blockQ: 8, blockK: 4), latent: [16, 2, 8, 8], alignment: 8),
        // 27 tokens over 2 ranks in blocks of 4: shards of 12 and 15 (unequal exchanges, partial SLA blocks).
        Case(ranks: 2, attention: .sla(topk: 0.5, blockQ: 8, blockK: 4), latent: [16, 3, 6, 6], alignment: 4),
    ]

    static func inputs(_ latent: [Int]) throws -> (x: Tensor, text: Tensor) {
        let n = latent.reduce(1, *)
        let x = try Tensor.host((0..<n).map { Float(($0 * 37) % 23) / 11 - 1 }, shape: latent)
        let text = try Tensor.host((0..<(5 * 32)).map { Float(($0 * 13) % 17) / 8 - 1 }, shape: [5, 32])
        return (x, text)
    }

    /// The one-rank output and every rank's output of the sharded forward.
    func run(_ c: Case, dtype: DType = .f32, mode: LinearMode = .dense) throws -> (single: [Float], ranks: [[Float]]) {
        let tensors = try WanDiTRandomWeights.stateDict(Self.config, layout: .turbo, seed: 11, dtype: .f32)
        let (x, text) = try Self.inputs(c.latent)
        @Sendable func model(_ b: CPUBackend) throws -> WanDiT {
            try WanDiT(WeightStore(tensors, source: "random", backend: b, matrixType: dtype, linearMode: mode), config: Self.config,
                       attention: c.attention)
        }
        let cpu = CPUBackend()
        let single = try model(cpu)(x: x, timestep: 700, context: text, ComputeContext(backend: cpu, dtype: dtype)).floats()
        let group = try InProcessGroup(size: c.ranks)
        let outputs = try group.run { r in
            let b = CPUBackend()
            let parallel = SequenceParallelism(try group.communicator(rank: r, backend: b), alignment: c.alignment)
            return try model(b)(x: x, timestep: 700, context: text, ComputeContext(backend: b, dtype: dtype), parallel: parallel).floats()
        }
        return (single, outputs)
    }

    @Test(arguments: cases)
    func shardedForwardEqualsOneRank(_ c: Case) throws {
        let (single, ranks) = try run(c)
        #expect(single.count == c.latent.reduce(1, *) && single.contains { $0 != 0 })
        for (r, out) in ranks.enumerated() {
            let err = relativeL2(out, single)
            #expect(err <= 1e-6, "rank \(r): relative L2 \(err)")
        }
    }

    /// bf16 with W8A8 Linears: 128-aligned shards quantise the activations in the same 128-row blocks.
    @Test func w8a8ShardsAlignedTo128EqualOneRank() throws {
        let c = Case(ranks: 2, attention: .sla(topk: 0.5, blockQ: 16, blockK: 16), latent: [16, 2, 16, 32],
                     alignment: SequenceShards.defaultAlignment)
        let (single, ranks) = try run(c, dtype: .bf16, mode: .w8a8)
        for (r, out) in ranks.enumerated() {
            let err = relativeL2(out, single)
            #expect(err <= 1e-6, "rank \(r): relative L2 \(err)")
        }
    }

    @Test func headsThatDoNotDivideAreRefused() throws {
        #expect(throws: TensorError.self) { try SequenceParallelism.validate(heads: 40, ranks: 3) }
        do {
            try SequenceParallelism.validate(heads: 40, ranks: 6)
            Issue.record("40 heads on 6 GPUs must be refused")
        } catch {
            #expect("\(error)".contains("40 heads do not divide over 6"))
            #expect("\(error)".contains("2, 4, 5, 8 GPUs"))
        }
        try SequenceParallelism.validate(heads: 40, ranks: 8)
        // The forward refuses too, on every rank, before any exchange.
        let c = Case(ranks: 3, attention: .original, latent: [16, 2, 8, 8], alignment: 8)
        #expect(throws: TensorError.self) { _ = try run(c) }
    }

    @Test func shardsOf720pAreAlignedTo128() throws {
        let s = try SequenceShards(tokens: 21 * 45 * 80, ranks: 8)
        // 591 blocks of 128 (the last of 80 tokens): 73 or 74 per rank.
        #expect(s.counts == [9344, 9472, 9472, 9472, 9472, 9472, 9472, 9424])
        #expect(s.starts == [0, 9344, 18816, 28288, 37760, 47232, 56704, 66176])
        #expect(s.starts.allSatisfy { $0 % 128 == 0 } && s.counts.reduce(0, +) == 75_600)
        // 10 blocks over 8 ranks: none left empty.
        #expect(try SequenceShards(tokens: 1280, ranks: 8).counts == [128, 128, 128, 256, 128, 128, 128, 256])
        #expect(try SequenceShards(tokens: 75_600, ranks: 1).counts == [75_600])
        #expect(try SequenceShards(tokens: 27, ranks: 2, alignment: 4).counts == [12, 15])
        do {
            _ = try SequenceShards(tokens: 300, ranks: 4)
            Issue.record("300 tokens cannot give 4 ranks a block of 128 each")
        } catch {
            #expect("\(error)".contains("300 tokens cannot be split over 4 ranks"))
        }
    }
}
