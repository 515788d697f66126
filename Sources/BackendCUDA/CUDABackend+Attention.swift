import CCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// Dense attention, `softmax(q·kᵀ·scale + bias)·v`, in two paths:
///
/// - fused: bf16/f16 q, k, v of one dtype, D = Dv ∈ {64, 128}, no bias, sm_80+, rows 16-byte
///   aligned with a contiguous D (the DiT's `[L, H·D]` head views qualify). Online softmax on
///   tensor cores; P is rounded to the input type as the operand of P·V, everything else
///   accumulates in fp32. On Hopper (compute capability 9.0) at D = 128, `td_fa3_*`
///   (Kernels/hopper_attention.cu: wgmma, warp-specialised cp.async producers); else `td_fa2_*`
///   (Kernels/flash_attention.cu: 128 query rows per block,
///   ldmatrix, double-buffered K/V) for a positive finite scale, fewer than 2³¹ − 256 tokens and
///   enough shared memory per block (102 KiB at D = 128: not on sm_86/89); otherwise `td_flash_attn_*`
///   (Kernels/attention.cu: 64 rows per block).
/// - composed (every other case): per chunk of heads or query rows, S = q·kᵀ in fp32 through
///   cuBLASLt, `td_attn_softmax` applies scale, bias and the softmax (fp32), then P·V through
///   cuBLASLt, rounded once to q's dtype. When q and v are bf16 (or both f16), P is rounded to that
///   type as the operand of P·V (fp32 accumulation), as the fused kernels and the reference's
///   bf16 attention do; otherwise P and v are fp32. Scores are bounded by `attentionScoreBudget`
///   elements per chunk by default.
///
/// Semantics follow the CPU backend: result [B, H, Lq, Dv] in q's dtype, any float
/// dtypes for q, k, v and the bias, the bias broadcast to [B, H, Lq, Lk] (stride-0 views are read
/// in place), a query row whose scores are all -inf (or Lk = 0) gives NaN.
///
/// Layout: the fused kernels store their rows through the output's strides, so their result is a
/// [B, Lq, H, Dv] buffer viewed as [B, H, Lq, Dv] (`headsMergedOutput`): the DiT's merge of the heads
/// back into [L, H·Dv] tokens is then a view. The composed path returns a contiguous tensor.
extension CUDABackend {
    /// Most fp32 scores one composed chunk holds by default (512 MiB).
    public static let attentionScoreBudget = 1 << 27
    /// Rows per block and keys per tile of `td_flash_attn_*` (FA_ROWS/FA_KEYS in attention.cu).
    static let flashTile = 64
    /// Query rows per block of `td_fa2_*` (64·MT in flash_attention.cu) and its shared memory:
    /// the Q tile plus double-buffered 64-key K and V tiles, rows of D + 8 bf16/f16 elements.
    static let fa2Rows = 128
    static func fa2SharedBytes(rows: Int, d: Int) -> Int { (rows + 4 * 64) * (d + 8) * 2 }
    /// `td_fa3_*` (Kernels/hopper_attention.cu): query rows per block, threads (two consumer and one
    /// producer warpgroup) and shared memory (Q, three K and V stages of 32 KiB, 1 KiB alignment
    /// slack, nine mbarriers).
    static let fa3Rows = 128
    static let fa3Threads = 384
    static let fa3SharedBytes = 7 * 32_768 + 1024 + 72
    /// Token counts the fa2 kernels index with 32-bit integers.
    static let fa2MaxTokens = Int(Int32.max) - 256

    public func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor {
        try attention(q: q, k: k, v: v, scale: scale, bias: bias, allowFused: true)
    }

    /// `attention` with the path under control: `allowFused: false` always takes the composed path;
    /// `scoreBudget` bounds the fp32 scores of one composed chunk (a small one forces many chunks).
    /// For tests and benchmarks that compare the two paths on the device.
    public func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?, allowFused: Bool,
                          scoreBudget: Int = CUDABackend.attentionScoreBudget) throws -> Tensor {
        guard scoreBudget > 0 else { throw TensorError.invalidArgument("attention: score budget \(scoreBudget) must be positive") }
        for (t, what) in [(q, "q"), (k, "k"), (v, "v")] { _ = try deviceBuffer(t, "attention \(what)") }
        try activate()
        guard q.rank == 4, k.rank == 4, v.rank == 4 else {
            throw TensorError.invalidArgument("attention needs [B, H, L, D] tensors, got q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let lk = k.shape[2], dv = v.shape[3]
        guard k.shape == [nb, nh, lk, d], v.shape == [nb, nh, lk, dv] else {
            throw TensorError.shapeMismatch("attention q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        for (t, what) in [(q, "q"), (k, "k"), (v, "v")] { _ = try floatCode(t.dtype, "attention \(what)") }
        var biasView: Tensor?
        if let bias {
            _ = try deviceBuffer(bias, "attention bias")
            _ = try floatCode(bias.dtype, "attention bias")
            biasView = try bias.expanded(to: [nb, nh, lq, lk])
        }
        if nb * nh * lq * dv == 0 { return try empty([nb, nh, lq, dv], dtype: q.dtype) }
        if lk == 0 {
            // No keys: every row is an empty distribution, NaN as on the CPU (0xFF… is NaN in f32, bf16, f16).
            let out = try empty([nb, nh, lq, dv], dtype: q.dtype)
            try driver.check(driver.api.cuMemsetD8Async(try address(out), 0xFF, out.byteCount, stream), "cuMemsetD8Async")
            return out
        }
        if allowFused, biasView == nil, let kernel = try flashKernel(q: q, k: k, v: v) {
            if scale > 0, scale.isFinite, max(lq, lk) <= Self.fa2MaxTokens, d == 128, computeCapability == (9, 0),
               Self.fa3SharedBytes <= maxSharedMemoryPerBlock {
                return try fa3Attention(kernel.replacing("td_flash_attn_", with: "td_fa3_"),
                                        q: q, k: k, v: v, scale: scale)
            }
            if scale > 0, scale.isFinite, max(lq, lk) <= Self.fa2MaxTokens,
               Self.fa2SharedBytes(rows: Self.fa2Rows, d: d) <= maxSharedMemoryPerBlock {
                return try fa2Attention(kernel.replacing("td_flash_attn_", with: "td_fa2_"),
                                        q: q, k: k, v: v, scale: scale)
            }
            return try flashAttention(kernel, q: q, k: k, v: v, scale: scale)
        }
        return try composedAttention(q: q, k: k, v: v, scale: scale, bias: biasView, budget: scoreBudget)
    }

    // MARK: Fused

    /// The fused kernel's name for these operands, or nil when the fused path does not cover them.
    func flashKernel(q: Tensor, k: Tensor, v: Tensor) throws -> String? {
        guard computeCapability.major >= 8, q.dtype == k.dtype, q.dtype == v.dtype,
              q.dtype == .bf16 || q.dtype == .f16 else { return nil }
        let d = q.shape[3]
        guard d == 64 || d == 128, v.shape[3] == d, q.shape[1] <= 65535, q.shape[0] <= 65535 else { return nil }
        for t in [q, k, v] {
            // 16-byte cp.async of 8-element row chunks: D contiguous, every row start 16-byte aligned.
            guard t.strides[3] == 1, try address(t) % 16 == 0 else { return nil }
            for dim in 0..<3 where t.shape[dim] > 1 && t.strides[dim] % 8 != 0 { return nil }
        }
        return "td_flash_attn_\(q.dtype == .bf16 ? "bf16" : "f16")_d\(d)"
    }

    /// Element strides of the b, h and l dims (0 for size-1 dims, whose stride is never used).
    func rowStrides(_ t: Tensor) -> [KernelArgument] {
        (0..<3).map { .int64(Int64(t.shape[$0] == 1 ? 0 : t.strides[$0])) }
    }

    /// A new [B, H, L, D] tensor whose memory is [B, L, H, D] (element strides L·H·D, D, H·D, 1), for
    /// kernels that store whole rows through `rowStrides`. `permuted([0, 2, 1, 3])` of it is dense,
    /// so merging the heads into [B, L, H·D] needs no copy.
    func headsMergedOutput(_ nb: Int, _ nh: Int, _ l: Int, _ d: Int, dtype: DType) throws -> Tensor {
        try empty([nb, l, nh, d], dtype: dtype).permuted([0, 2, 1, 3])
    }

    /// Launches `kernel` (from `flashKernel`) into a new [B, H, Lq, D] tensor (`headsMergedOutput`).
    private func flashAttention(_ kernel: String, q: Tensor, k: Tensor, v: Tensor, scale: Float) throws -> Tensor {
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let out = try headsMergedOutput(nb, nh, lq, d, dtype: q.dtype)   // rows of d elements (u32 stores)
        let tile = Self.flashTile
        let sharedBytes = 3 * tile * (d + 8) * 2
        let scaleLog2 = Float(Double(scale) * 1.442_695_040_888_963_4)   // scale·log2(e)
        try launch(.attention, kernel, grid: ((lq + tile - 1) / tile, nh, nb), block: (128, 1, 1), sharedBytes: sharedBytes,
                   [.pointer(try address(out)), .pointer(try address(q)), .pointer(try address(k)), .pointer(try address(v)),
                    .int64(Int64(lq)), .int64(Int64(k.shape[2])), .float(scaleLog2)]
                   + rowStrides(q) + rowStrides(k) + rowStrides(v) + rowStrides(out))
        return out
    }

    /// Launches a `td_fa3_*` dense kernel (Hopper, D = 128; operands as `flashKernel` accepts them)
    /// into a new [B, H, Lq, D] tensor (`headsMergedOutput`; u32 stores of column pairs).
    private func fa3Attention(_ kernel: String, q: Tensor, k: Tensor, v: Tensor, scale: Float) throws -> Tensor {
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let out = try headsMergedOutput(nb, nh, lq, d, dtype: q.dtype)
        let scaleLog2 = Float(Double(scale) * 1.442_695_040_888_963_4)
        try launch(.hopperAttention, kernel, grid: ((lq + Self.fa3Rows - 1) / Self.fa3Rows, nh, nb), block: (Self.fa3Threads, 1, 1),
                   sharedBytes: Self.fa3SharedBytes,
                   [.pointer(try address(out)), .pointer(try address(q)), .pointer(try address(k)), .pointer(try address(v)),
                    .int64(Int64(lq)), .int64(Int64(k.shape[2])), .float(scaleLog2)]
                   + rowStrides(q) + rowStrides(k) + rowStrides(v) + rowStrides(out))
        return out
    }

    /// Launches a `td_fa2_*` dense kernel (operands as `flashKernel` accepts them) into a new
    /// [B, H, Lq, D] tensor (`headsMergedOutput`; u32 stores of column pairs).
    private func fa2Attention(_ kernel: String, q: Tensor, k: Tensor, v: Tensor, scale: Float) throws -> Tensor {
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let out = try headsMergedOutput(nb, nh, lq, d, dtype: q.dtype)
        let rows = Self.fa2Rows
        let scaleLog2 = Float(Double(scale) * 1.442_695_040_888_963_4)
        try launch(.flashAttention, kernel, grid: ((lq + rows - 1) / rows, nh, nb), block: (128, 1, 1),
                   sharedBytes: Self.fa2SharedBytes(rows: rows, d: d),
                   [.pointer(try address(out)), .pointer(try address(q)), .pointer(try address(k)), .pointer(try address(v)),
                    .int64(Int64(lq)), .int64(Int64(k.shape[2])), .float(scaleLog2)]
                   + rowStrides(q) + rowStrides(k) + rowStrides(v) + rowStrides(out))
        return out
    }

    // MARK: Composed

    /// `t` when dense, else a dense copy (in `dtype` when given).
    private func dense(_ t: Tensor, _ dtype: DType? = nil) throws -> Tensor {
        if t.isContiguous && (dtype == nil || dtype == t.dtype) { return t }
        return try contiguous(t, dtype: dtype)
    }

    /// bias: nil or already expanded to [B, H, Lq, Lk].
    private func composedAttention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?, budget: Int) throws -> Tensor {
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let lk = k.shape[2], dv = v.shape[3], heads = nb * nh
        let qc = try dense(q).reshaped([heads, lq, d])
        let kc = try dense(k).reshaped([heads, lk, d])
        // Half-precision q and v: P in their type, P·V on tensor cores; else P·V in fp32.
        let halfP = (q.dtype == .bf16 || q.dtype == .f16) && v.dtype == q.dtype
        let vc = try dense(v, halfP ? nil : .f32).reshaped([heads, lk, dv])

        // Chunks: whole heads while a head's scores fit the budget, else rows of one head.
        let groupSize = lq * lk <= budget ? max(1, min(heads, budget / (lq * lk))) : 1
        let chunkRows = lq * lk <= budget ? lq : max(1, budget / lk)

        var biasArguments: [KernelArgument] = [.pointer(0), .int32(0), .int64(0), .int64(0), .int64(0), .int64(0)]
        if let bias {
            biasArguments = [.pointer(try address(bias)), .int32(try floatCode(bias.dtype, "attention bias"))]
                + bias.strides.map { .int64(Int64($0)) }
        }

        var out: Tensor?   // allocated once a second chunk shows the result is not one matmul's output
        var h0 = 0
        while h0 < heads {
            let g = min(groupSize, heads - h0)
            var r0 = 0
            while r0 < lq {
                let rows = min(chunkRows, lq - r0)
                // Dense views: either whole heads (rows == lq) or rows of a single head (g == 1).
                let qa = try qc.narrowed(dim: 0, start: h0, length: g).narrowed(dim: 1, start: r0, length: rows)
                let s = try matmul(qa, try kc.narrowed(dim: 0, start: h0, length: g), transposeB: true, bias: nil, outputType: .f32)
                let total = g * rows
                let block = min(512, max(32, (lk + 31) / 32 * 32))
                let p = halfP ? try empty(s.shape, dtype: q.dtype) : s
                try launch(.attention, "td_attn_softmax", grid: min(total, multiprocessorCount * 64), block: block,
                           [.pointer(try address(s)), .pointer(try address(p)), .int32(try floatCode(p.dtype, "attention")),
                            .int64(Int64(total)), .int64(Int64(lk)), .float(scale)] + biasArguments
                           + [.int64(Int64(nh)), .int64(Int64(rows)), .int64(Int64(h0)), .int64(Int64(r0))])
                let o = try matmul(p, try vc.narrowed(dim: 0, start: h0, length: g), transposeB: false, bias: nil, outputType: q.dtype)
                if g == heads && rows == lq { return try o.reshaped([nb, nh, lq, dv]) }
                if out == nil { out = try empty([heads, lq, dv], dtype: q.dtype) }
                let target = try out!.narrowed(dim: 0, start: h0, length: g).narrowed(dim: 1, start: r0, length: rows)
                try driver.check(driver.api.cuMemcpyDtoDAsync(try address(target), try address(o), o.byteCount, stream),
                                 "cuMemcpyDtoDAsync")
                r0 += rows
            }
            h0 += g
        }
        return try out!.reshaped([nb, nh, lq, dv])
    }
}
