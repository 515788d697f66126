import BackendCPU
import BackendCUDA
import Checkpoints
import Models
import Testing
import TensorCore

/// Sequence parallelism on real GPUs over NCCL (docs/multi-gpu.md): enabled on a host with at least
/// two CUDA devices and libnccl.so.2 (e.g. TURBODIFFUSION_CUDA_LIBS=…/nvidia/nccl/lib).
enum MultiGPUSupport {
    static let deviceCount: Int = (try? CUDABackend.deviceCount()) ?? 0
    static var available: Bool { deviceCount >= 2 && NCCLCommunicator.libraryVersion != nil }
    /// One backend per device, shared by the tests (one allocator per device).
    static let backends: [CUDABackend] = available ? (0..<deviceCount).compactMap { try? CUDABackend(deviceIndex: $0) } : []
    /// 2, 4 and 8 where the host has them.
    static var rankCounts: [Int] { [2, 4, 8].filter { $0 <= backends.count } }
}

@Suite(.enabled(if: MultiGPUSupport.available), .serialized)
struct MultiGPUTests {
    @Test func allToAllOverNCCLDeliversEachPart() throws {
        for n in MultiGPUSupport.rankCounts {
            let comms = try NCCLCommunicator.group(Array(MultiGPUSupport.backends.prefix(n)))
            for dtype in [DType.f32, .bf16] {
                let ok = try RankThreads.run(count: n, onFailure: { _ in comms.forEach { $0.abort() } }) { r -> Bool in
                    let comm = comms[r], b = comm.backend
                    // Rank i sends rank j a [i + 1, j + 1] tensor of 100·i + j (exact in bf16), one of them strided.
                    let sends = try (0..<n).map { j -> Tensor in
                        let t = try b.upload(Tensor.host([Float](repeating: Float(100 * r + j), count: (r + 1) * (j + 1)),
                                                         shape: [j + 1, r + 1], dtype: dtype))
                        return try t.transposed(0, 1)
                    }
                    let got = try comm.allToAll(sends, receiveShapes: (0..<n).map { [$0 + 1, r + 1] })
                    return try got.enumerated().allSatisfy { i, t in
                        try t.shape == [i + 1, r + 1] && b.toHost(t).floats().allSatisfy { $0 == Float(100 * i + r) }
                    }
                }
                #expect(ok == [Bool](repeating: true, count: n), "\(n) GPUs, \(dtype)")
            }
        }
    }

    /// bf16 DiT (head dim 128, the production kernels) on N GPUs against one GPU.
    @Test(arguments: [SelfAttentionKind.original, .sagesla(topk: 0.25, blockQ: 64, blockK: 128)])
    func shardedDiTEqualsOneGPUWithinBF16Noise(_ attention: SelfAttentionKind) throws {
        let config = WanDiTConfig(dim: 1024, ffnDim: 2048, numHeads: 8, numLayers: 2, inChannels: 16, outChannels: 16, textDim: 64,
                                  textLength: 16, frequencyDim: 256)
        let weights = try WanDiTRandomWeights.stateDict(config, layout: .turbo, seed: 17, dtype: .bf16)
        var rng = SeededRandom(seed: 23)
        // 5 × 16 × 16 = 1 280 tokens: 10 blocks of 128, every rank of 8 gets one or two.
        let x = try Tensor.host(rng.values(16 * 5 * 32 * 32, -1, 1), shape: [16, 5, 32, 32])
        let text = try Tensor.host(rng.values(7 * 64, -1, 1), shape: [7, 64])
        @Sendable func run(_ b: CUDABackend, _ parallel: SequenceParallelism?) throws -> [Float] {
            let store = WeightStore(weights, source: "random", backend: b, matrixType: .bf16)
            if case .original = attention { store.ignore(where: { $0.contains(".proj_l.") }, note: "unused") }
            let model = try WanDiT(store, config: config, attention: attention)
            let out = try model(x: b.upload(x), timestep: 700, context: b.upload(text), ComputeContext(backend: b, dtype: .bf16),
                                parallel: parallel)
            return try b.toHost(out).floats()
        }
        let single = try run(MultiGPUSupport.backends[0], nil)
        for n in MultiGPUSupport.rankCounts {
            let comms = try NCCLCommunicator.group(Array(MultiGPUSupport.backends.prefix(n)))
            let outputs = try RankThreads.run(count: n, onFailure: { _ in comms.forEach { $0.abort() } }) { r in
                try run(comms[r].cuda, SequenceParallelism(comms[r]))
            }
            for (r, out) in outputs.enumerated() {
                var num = 0.0, den = 0.0
                for (a, e) in zip(out, single) { num += Double(a - e) * Double(a - e); den += Double(e) * Double(e) }
                let err = (num / max(den, 1e-30)).squareRoot()
                #expect(err <= 1e-2, "\(n) GPUs, rank \(r), \(attention): relative L2 \(err) to one GPU")
            }
        }
    }
}
