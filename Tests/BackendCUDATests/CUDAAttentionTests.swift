import BackendCPU
import BackendCUDA
import Foundation
import Testing
import TensorCore

/// The two attention paths against each other on the device, and the composed path's chunking
/// against the CPU (the op catalogue covers each path against the CPU at one chunk).
@Suite(.enabled(if: CUDATestSupport.available), .serialized)
struct CUDAAttentionTests {
    let cpu = CUDATestSupport.cpu

    /// q, k, v as the DiT's head views of [B, L, H·D] tensors.
    static func headViews(_ rng: inout SeededRandom, b: Int, h: Int, lq: Int, lk: Int, d: Int, dtype: DType) throws -> [Pair] {
        try [(lq, Float(-2)), (lk, -1), (lk, -1)].map { l, lo in
            try Pair(rng.values(b * l * h * d, lo, -lo), [b, l, h * d], dtype).map {
                try $0.reshaped([b, l, h, d]).permuted([0, 2, 1, 3])
            }
        }
    }

    @Test(arguments: [64, 128])
    func fusedMatchesComposedOnTheDevice(d: Int) throws {
        let gpu = try CUDATestSupport.gpu
        for dtype in [DType.bf16, .f16] {
            var rng = SeededRandom(seed: 71 &+ UInt64(d))
            let x = try Self.headViews(&rng, b: 2, h: 3, lq: 130, lk: 77, d: d, dtype: dtype)
            let scale = 1 / Float(d).squareRoot()
            let fused = try gpu.attention(q: x[0].gpu, k: x[1].gpu, v: x[2].gpu, scale: scale, bias: nil)
            let composed = try gpu.toHost(try gpu.attention(q: x[0].gpu, k: x[1].gpu, v: x[2].gpu, scale: scale, bias: nil,
                                                            allowFused: false))
            // P rounded to bf16/f16 in the fused kernel, fp32 in the composition.
            let p = try Parity.measure(fused, composed, label: "attention fused vs composed \(dtype) D=\(d)")
            #expect(p.within(dtype == .bf16 ? 1e-2 : 1e-3), "\(dtype) D=\(d): \(p)")
        }
    }

    @Test(arguments: [Int.max, 2 * 77 * 93, 30 * 93, 1])
    func composedChunksMatchTheCPU(budget: Int) throws {
        // Budgets: one chunk; groups of two heads; 30 query rows of one head; one row per chunk.
        let gpu = try CUDATestSupport.gpu
        var rng = SeededRandom(seed: 81)
        let (b, h, lq, lk, d) = (2, 3, 77, 93, 40)
        let x = try Self.headViews(&rng, b: b, h: h, lq: lq, lk: lk, d: d, dtype: .f32)
        var biasValues = rng.values(lq * lk)
        for i in 0..<lq { biasValues[i * lk + 5] = -3e38 }   // a masked key column
        let bias = try Pair(biasValues, [1, 1, lq, lk], .f32).map { try $0.expanded(to: [b, h, lq, lk]) }
        let g = try gpu.attention(q: x[0].gpu, k: x[1].gpu, v: x[2].gpu, scale: 0.3, bias: bias.gpu, allowFused: false,
                                  scoreBudget: budget)
        let c = try cpu.attention(q: x[0].cpu, k: x[1].cpu, v: x[2].cpu, scale: 0.3, bias: bias.cpu)
        let p = try Parity.measure(g, c, label: "attention composed, budget \(budget)")
        #expect(p.within(1e-5), "budget \(budget): \(p)")
    }

    /// The fused and block-sparse kernels store into a [B, L, H, D] buffer: merging the heads is a
    /// view, and `contiguous` of that view returns it without a copy (same buffer, same values).
    @Test func attentionOutputsMergeHeadsWithoutACopy() throws {
        let gpu = try CUDATestSupport.gpu
        var rng = SeededRandom(seed: 5)
        let (b, h, l, d) = (1, 3, 200, 128)
        let x = try Self.headViews(&rng, b: b, h: h, lq: l, lk: l, d: d, dtype: .bf16)
        let (q, k, v) = (x[0].gpu, x[1].gpu, x[2].gpu)
        let blocks = try gpu.slaBlockMap(q: q, k: k, blockQ: 64, blockK: 128, keep: 1)
        let outputs: [(String, Tensor, Tensor)] = [
            ("attention", try gpu.attention(q: q, k: k, v: v, scale: 0.1, bias: nil),
             try cpu.attention(q: x[0].cpu, k: x[1].cpu, v: x[2].cpu, scale: 0.1, bias: nil)),
            ("blockSparseAttention", try gpu.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: 64, blockK: 128, scale: 0.1),
             try cpu.blockSparseAttention(q: x[0].cpu, k: x[1].cpu, v: x[2].cpu, blocks: gpu.toHost(blocks), blockQ: 64, blockK: 128, scale: 0.1)),
        ]
        for (name, o, reference) in outputs {
            #expect(o.shape == [b, h, l, d] && o.strides == [l * h * d, d, h * d, 1], "\(name): \(o.strides)")
            let merged = try gpu.contiguous(o.permuted([0, 2, 1, 3]))
            #expect(merged.buffer === o.buffer, "\(name): contiguous copied a dense merged view")
            let p = try Parity.measure(merged.reshaped([l, h * d]), try cpu.contiguous(reference.permuted([0, 2, 1, 3])).reshaped([l, h * d]),
                                       label: name)
            #expect(p.within(1e-2), "\(name): \(p)")
        }
    }

    @Test func noKeysGiveNaN() throws {
        let gpu = try CUDATestSupport.gpu
        let q = try gpu.upload(try Tensor.host([Float](repeating: 1, count: 2 * 64), shape: [1, 1, 2, 64], dtype: .bf16))
        let kv = try gpu.empty([1, 1, 0, 64], dtype: .bf16)
        let o = try gpu.toHost(try gpu.attention(q: q, k: kv, v: kv, scale: 1, bias: nil))
        #expect(o.shape == [1, 1, 2, 64])
        #expect(try o.floats().allSatisfy { $0.isNaN })
    }
}
