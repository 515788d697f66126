#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// SLA block map, block-sparse attention and SageSLA's 8-bit sparse branch (Kernels/sparse_attention.cu, Kernels/sage_attention.cu).
///
/// q/k/v are read in place through their strides (the DiT passes `[L, H·D]` activations viewed as
/// `[1, H, L, D]`), in f32, bf16 or f16; no dense copies are made.
///
/// Exactness against the CPU:
/// - `slaBlockMap` reproduces the CPU's fp32 operations in the CPU's order (token mean of k, block
///   means, sequential score dots without FMA), so its scores are bit-identical and the selection
///   (ties by lower index) equals the CPU's; the indices are written ascending, as the CPU does.
/// - `quantizedBlockSparseAttention` reproduces every rounding point of the CPU emulation; exp2 is
///   evaluated in double and rounded once, so it equals the CPU's `exp2f` whenever that one is
///   correctly rounded. A rare 1-ulp difference there can move one fp8 rounding of P. On sm_89+
///   with D = Dv ∈ {64, 128} and blockK ∈ {64, 128} the tensor-core kernel keeps P and its e4m3
///   rounding identical; only the order (and, in the e4m3 mma, the accumulator width) of the row
///   sums and of P·V differ (NMSE ≈ 1e-8 in emulation).
/// - `blockSparseAttention` is plain fp32 with its own summation order; for bf16/f16 with
///   D = Dv ∈ {64, 128}, blockQ ∈ {64, 128} and blockK a multiple of 64 it runs on tensor cores
///   (`td_fa2_sparse_*` in Kernels/flash_attention.cu: fp32 online softmax, P rounded to the input
///   type as the operand of P·V, as in dense fused attention).
///
/// Both attention ops return a [B, Lq, H, Dv] buffer viewed as [B, H, Lq, Dv] (`headsMergedOutput`;
/// every kernel stores its rows through the output's b/h/l strides), so merging the heads into
/// [L, H·Dv] tokens is a view.
///
/// Unlike the CPU, the attention ops do not check the block indices (that would need the table on
/// the host): an index outside `0..<⌈Lk/blockK⌉` is skipped, and a row with no valid block is NaN.
extension CUDABackend: SparseAttentionBackend {
    /// Threads per block of the attention kernels (`SA_THREADS`), query rows per thread block
    /// (`SA_ROWS`) and keys per shared-memory chunk (`SA_KEYS`).
    private static let attentionThreads = 256, attentionRows = 64, attentionKeys = 32
    /// Accumulator tiles of 4×4 per thread (`SA_TILES`): bounds dv.
    private static let attentionTiles = 4
    /// Dynamic shared memory the attention kernels may use (sm_80 allows 163 KiB per block).
    private static let sharedMemoryLimit = 160 * 1024
    /// Most query blocks per thread block of `td_sla_topk` (`SA_TOPK_ROWS`).
    private static let topkRows = 8
    /// Tokens per chunk of the v scale's partial maxima (`SA_VMAX_TOKENS`).
    private static let vMaxTokens = 128
    /// Tokens per block of td_sage_v_quantize_t (`SG_VT_TOKENS`; blockK ∈ {64, 128} is a multiple).
    private static let vTransposeTokens = 64

    /// SageSLA's tensor-core kernel for a shape: its name and dynamic shared memory, or nil where the
    /// CUDA-core `td_sage_attention` runs. Needs sm_89+ (e4m3 mma), D = Dv ∈ {64, 128}, blockK ∈ {64, 128}
    /// and the shared memory: `td_sage_attention_mma_d<D>_k<blockK>` double-buffers K and Vᵀ; where
    /// that does not fit (D = 128 with 128-key blocks needs 104 KiB, Ada and consumer Ampere-class
    /// parts give 99 KiB) `td_sage_attention_mma_lean_d128_k128` keeps one Vᵀ tile (70 KiB).
    private func sageTensorCoreKernel(_ s: AttentionShape, blockK: Int) -> (name: String, sharedBytes: Int)? {
        let cc = computeCapability
        guard cc.major > 8 || (cc.major == 8 && cc.minor >= 9) else { return nil }
        guard s.d == s.dv && (s.d == 64 || s.d == 128) && (blockK == 64 || blockK == 128) else { return nil }
        let double = Self.sageMMASharedBytes(d: s.d, blockK: blockK, vTiles: 2)
        if double <= maxSharedMemoryPerBlock { return ("td_sage_attention_mma_d\(s.d)_k\(blockK)", double) }
        let lean = Self.sageMMASharedBytes(d: s.d, blockK: blockK, vTiles: 1)
        if s.d == 128, blockK == 128, lean <= maxSharedMemoryPerBlock { return ("td_sage_attention_mma_lean_d128_k128", lean) }
        return nil
    }

    /// Dynamic shared memory of the tensor-core kernels: two K [BK][D+16] int8 tiles and `vTiles`
    /// Vᵀ [D][BK+8] f16 tiles.
    static func sageMMASharedBytes(d: Int, blockK: Int, vTiles: Int) -> Int {
        2 * blockK * (d + 16) + vTiles * d * (blockK + 8) * 2
    }

    /// A [B, H, L, D] view as kernel arguments: address of its first element, dtype code and the
    /// element strides of B, H, L, D.
    private func headView(_ t: Tensor, _ op: String) throws -> [KernelArgument] {
        _ = try deviceBuffer(t, op)
        let code = try floatCode(t.dtype, op)
        return [.pointer(try address(t)), .int32(code)] + t.strides.map { .int64(Int64($0)) }
    }

    /// Stages × tokens of the cp.async ring of `td_sla_key_mean_async` (`SA_MEAN_STAGES`,
    /// `SA_MEAN_STAGE_TOKENS`).
    private static let meanStages = 4, meanStageTokens = 256

    /// Token mean of k per (head, channel) in the CPU's summation order (the block map's selection
    /// depends on its bits): one sequential sum per channel, fed by a cp.async ring where the layout
    /// allows it (sm_80+, channels contiguous, D a multiple of 32, 16-byte aligned rows), else by
    /// tokens staged through shared memory by whole blocks. -> f32 [B·H, D].
    private func keyMean(_ k: Tensor, op: String) throws -> Tensor {
        let heads = k.shape[0] * k.shape[1], (lk, d) = (k.shape[2], k.shape[3])
        let mean = try empty([heads, d], dtype: .f32)
        guard heads > 0, d > 0 else { return mean }
        let elementBytes = k.dtype.byteSize
        let aligned = try address(k) % 16 == 0
            && (0..<3).allSatisfy { k.shape[$0] == 1 || (k.strides[$0] * elementBytes) % 16 == 0 }
        // The ring: 64 KiB for bf16/f16, 128 KiB for f32 (beyond consumer GPUs' 99 KiB: staged there).
        let ringBytes = Self.meanStages * Self.meanStageTokens * 32 * elementBytes
        if computeCapability.major >= 8, aligned, d % 32 == 0, k.strides[3] == 1, lk > 0, ringBytes <= maxSharedMemoryPerBlock {
            try launch(.sparseAttention, "td_sla_key_mean_async", grid: (d / 32, heads, 1), block: (256, 1, 1),
                       sharedBytes: ringBytes,
                       [.pointer(try address(mean))] + headView(k, op).dropLast()
                       + [.int32(Int32(k.shape[1])), .int64(Int64(lk))])
            return mean
        }
        try launch(.sparseAttention, "td_sla_key_mean_staged", grid: ((d + 31) / 32, heads, 1), block: (256, 1, 1),
                   [.pointer(try address(mean))] + headView(k, op)
                   + [.int32(Int32(k.shape[1])), .int64(Int64(lk)), .int32(Int32(d))])
        return mean
    }

    public func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor {
        _ = try deviceBuffer(q, "slaBlockMap")
        _ = try deviceBuffer(k, "slaBlockMap")
        try activate()
        guard q.rank == 4, k.rank == 4, q.shape[0] == k.shape[0], q.shape[1] == k.shape[1], q.shape[3] == k.shape[3] else {
            throw TensorError.shapeMismatch("slaBlockMap q \(q.shape), k \(k.shape): expected [B, H, L, D] with equal B, H, D")
        }
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let lk = k.shape[2]
        guard blockQ > 0, blockK > 0 else {
            throw TensorError.invalidArgument("slaBlockMap blocks \(blockQ)×\(blockK) must be positive")
        }
        let mq = (lq + blockQ - 1) / blockQ, mk = (lk + blockK - 1) / blockK
        guard keep >= 1, keep <= mk else {
            throw TensorError.invalidArgument("slaBlockMap keeps \(keep) of \(mk) key blocks (blocks \(blockQ)×\(blockK))")
        }
        let heads = nb * nh
        let out = try empty([nb, nh, mq, keep], dtype: .i32)
        guard heads > 0, mq > 0, d > 0 else { return out }
        guard heads <= 65535 else { throw TensorError.unsupported("slaBlockMap on CUDA with \(heads) heads (at most 65535)") }
        // Query blocks per thread block (SA_TOPK_ROWS at most): their keys and q rows, then the histogram,
        // scan scratch and selection (SA_TOPK_EXTRA).
        func topkShared(_ rows: Int) -> Int { (rows * (mk + d) + 256 + 32 + 2) * 4 }
        var topkRows = Self.topkRows
        while topkRows > 1 && topkShared(topkRows) > Self.sharedMemoryLimit { topkRows -= 1 }
        let shared = topkShared(topkRows)
        guard shared <= Self.sharedMemoryLimit else {
            throw TensorError.unsupported("slaBlockMap on CUDA with \(mk) key blocks of dimension \(d) (needs \(shared) bytes of shared memory)")
        }
        let kMean = try keyMean(k, op: "slaBlockMap")
        let pooledQ = try empty([heads, mq, d], dtype: .f32)
        let pooledKT = try empty([heads, d, mk], dtype: .f32)
        let pools: [(x: Tensor, pooled: Tensor, block: Int, blocks: Int, shift: Tensor?, transposed: Int32)] = [
            (q, pooledQ, blockQ, mq, nil, 0), (k, pooledKT, blockK, mk, kMean, 1),
        ]
        for (x, pooled, block, blocks, shift, transposed) in pools {
            let (grid, threads) = elementwiseGrid(heads * blocks * d)
            try launch(.sparseAttention, "td_sla_pool", grid: grid, block: threads,
                       [.pointer(try address(pooled))] + headView(x, "slaBlockMap")
                       + [.int32(Int32(nh)), .int32(Int32(heads)), .int64(Int64(x.shape[2])), .int32(Int32(d)),
                          .int32(Int32(block)), .int32(Int32(blocks)), .pointer(try shift.map { try address($0) } ?? 0),
                          .int32(transposed)])
        }
        try launch(.sparseAttention, "td_sla_topk", grid: ((mq + topkRows - 1) / topkRows, heads, 1), block: (256, 1, 1),
                   sharedBytes: shared, [
                       .pointer(try address(out)), .pointer(try address(pooledQ)), .pointer(try address(pooledKT)),
                       .int32(Int32(mq)), .int32(Int32(mk)), .int32(Int32(d)), .int32(Int32(keep)), .int32(Int32(topkRows)),
                   ])
        return out
    }

    /// Shapes of the attention ops, validated as the CPU does (same messages).
    private struct AttentionShape {
        let nb, nh, heads, lq, lk, d, dv, mq, mk, keep: Int

        init(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int) throws {
            guard q.rank == 4, k.rank == 4, v.rank == 4, blocks.rank == 4, blocks.dtype == .i32, blockQ > 0, blockK > 0 else {
                throw TensorError.invalidArgument("block-sparse attention needs [B, H, L, D] q/k/v and i32 blocks, got \(q.shape), \(k.shape), \(v.shape), \(blocks.dtype)\(blocks.shape)")
            }
            (nb, nh) = (q.shape[0], q.shape[1])
            heads = nb * nh
            (lq, d, lk, dv) = (q.shape[2], q.shape[3], k.shape[2], v.shape[3])
            mq = (lq + blockQ - 1) / blockQ
            mk = (lk + blockK - 1) / blockK
            keep = blocks.shape[3]
            guard k.shape == [nb, nh, lk, d], v.shape == [nb, nh, lk, dv], blocks.shape == [nb, nh, mq, keep] else {
                throw TensorError.shapeMismatch("block-sparse attention q \(q.shape), k \(k.shape), v \(v.shape), blocks \(blocks.shape)")
            }
        }

        /// Thread blocks along x: query blocks × row chunks of `attentionRows`.
        func gridX(blockQ: Int) -> Int { mq * ((blockQ + CUDABackend.attentionRows - 1) / CUDABackend.attentionRows) }
    }

    /// Checks what the kernels' fixed tiling covers; throws `unsupported` otherwise.
    private func checkAttentionLimits(_ s: AttentionShape, sharedBytes: Int, _ op: String) throws {
        let tiles = ((Self.attentionRows + 3) / 4) * ((s.dv + 3) / 4)
        guard tiles <= Self.attentionThreads * Self.attentionTiles else {
            throw TensorError.unsupported("\(op) on CUDA with value dimension \(s.dv) (at most \(Self.attentionThreads * Self.attentionTiles * 16 / Self.attentionRows))")
        }
        guard sharedBytes <= Self.sharedMemoryLimit else {
            throw TensorError.unsupported("\(op) on CUDA with head dimensions \(s.d)/\(s.dv) and blocks of this size (needs \(sharedBytes) bytes of shared memory)")
        }
        guard s.heads <= 65535, s.lq < Int(Int32.max), s.lk < Int(Int32.max) else {
            throw TensorError.unsupported("\(op) on CUDA with \(s.heads) heads of \(s.lq)/\(s.lk) tokens")
        }
    }

    public func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor {
        let op = "blockSparseAttention"
        for t in [q, k, v, blocks] { _ = try deviceBuffer(t, op) }
        try activate()
        let s = try AttentionShape(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK)
        let odt = try floatCode(q.dtype, op)
        let out = try headsMergedOutput(s.nb, s.nh, s.lq, s.dv, dtype: q.dtype)
        guard s.heads > 0, s.lq > 0, s.dv > 0 else { return out }
        // The tensor-core kernels (Hopper's first) share one argument list (td_fa2_sparse_*'s).
        let fa3 = try fa3SparseKernel(q: q, k: k, v: v, s, blockQ: blockQ, blockK: blockK, scale: scale)
        if let kernel = try fa3 ?? fa2SparseKernel(q: q, k: k, v: v, s, blockQ: blockQ, blockK: blockK, scale: scale) {
            let table = blocks.isContiguous ? blocks : try contiguous(blocks)
            try launch(fa3 != nil ? .hopperAttention : .flashAttention, kernel, grid: (s.mq, s.nh, s.nb),
                       block: (fa3 != nil ? Self.fa3Threads : 128, 1, 1),
                       sharedBytes: fa3 != nil ? Self.fa3SharedBytes : Self.fa2SharedBytes(rows: blockQ, d: s.d), [
                           .pointer(try address(out)), .pointer(try address(q)), .pointer(try address(k)),
                           .pointer(try address(v)), .pointer(try address(table)), .int64(Int64(s.lq)), .int64(Int64(s.lk)),
                           .int32(Int32(blockK)), .int32(Int32(s.keep)), .int32(Int32(s.mq)), .int32(Int32(s.mk)),
                           .float(Float(Double(scale) * 1.442_695_040_888_963_4)),
                       ] + rowStrides(q) + rowStrides(k) + rowStrides(v) + rowStrides(out))
            return out
        }
        let (rows, keys) = (Self.attentionRows, Self.attentionKeys)
        let floats = rows * (s.d + 1) + keys * (s.d + 1) + keys * s.dv + rows * (keys + 1) + 3 * rows
        try checkAttentionLimits(s, sharedBytes: floats * 4, op)
        let table = blocks.isContiguous ? blocks : try contiguous(blocks)
        var arguments: [KernelArgument] = [.pointer(try address(out)), .int32(odt)]
        arguments += try headView(q, op) + headView(k, op) + headView(v, op)
        arguments += [.pointer(try address(table)), .int32(Int32(s.nh)), .int64(Int64(s.lq)), .int64(Int64(s.lk)),
                      .int32(Int32(s.d)), .int32(Int32(s.dv)), .int32(Int32(blockQ)), .int32(Int32(blockK)),
                      .int32(Int32(s.keep)), .int32(Int32(s.mq)), .int32(Int32(s.mk)), .float(scale)] + rowStrides(out)
        try launch(.sparseAttention, "td_block_sparse_attention", grid: (s.gridX(blockQ: blockQ), s.heads, 1),
                   block: (Self.attentionThreads, 1, 1), sharedBytes: floats * 4, arguments)
        return out
    }


    /// The Hopper kernel (`td_fa3_sparse_*`, Kernels/hopper_attention.cu) for these operands, or nil
    /// when it does not cover them: compute capability 9.0, D = Dv = 128, blockQ = 128 (its query
    /// tile), blockK a multiple of 64, and what `fa2SparseKernel` asks of the operands.
    private func fa3SparseKernel(q: Tensor, k: Tensor, v: Tensor, _ s: AttentionShape, blockQ: Int, blockK: Int,
                                 scale: Float) throws -> String? {
        guard computeCapability == (9, 0), s.d == 128, s.dv == 128, blockQ == Self.fa3Rows,
              Self.fa3SharedBytes <= maxSharedMemoryPerBlock, s.keep * (blockK / 64) <= Int(Int32.max) - 1,
              try fa2SparseKernel(q: q, k: k, v: v, s, blockQ: blockQ, blockK: blockK, scale: scale) != nil else { return nil }
        return "td_fa3_sparse_\(q.dtype == .bf16 ? "bf16" : "f16")_d128"
    }

    /// The tensor-core kernel (`td_fa2_sparse_*`, Kernels/flash_attention.cu) for these operands,
    /// or nil when it does not cover them: the dense fused kernel's operand conditions
    /// (`flashKernel`), blockQ ∈ {64, 128} (one thread block per query block), blockK a multiple
    /// of 64 (key tiles of 64), a positive finite scale, token counts below 2³¹ − 256 and the
    /// shared memory available.
    private func fa2SparseKernel(q: Tensor, k: Tensor, v: Tensor, _ s: AttentionShape, blockQ: Int, blockK: Int,
                                 scale: Float) throws -> String? {
        guard blockQ == 64 || blockQ == 128, blockK % 64 == 0, scale > 0, scale.isFinite,
              max(s.lq, s.lk) <= Self.fa2MaxTokens, s.mq <= Int(Int32.max), s.keep * (blockK / 64) <= Int(Int32.max),
              Self.fa2SharedBytes(rows: blockQ, d: s.d) <= maxSharedMemoryPerBlock,
              try flashKernel(q: q, k: k, v: v) != nil else { return nil }
        return "td_fa2_sparse_\(q.dtype == .bf16 ? "bf16" : "f16")_d\(s.d)_q\(blockQ)"
    }

    public func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                              scale: Float) throws -> Tensor {
        let op = "quantizedBlockSparseAttention"
        for t in [q, k, v, blocks] { _ = try deviceBuffer(t, op) }
        try activate()
        let s = try AttentionShape(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK)
        let odt = try floatCode(q.dtype, op)
        let out = try headsMergedOutput(s.nb, s.nh, s.lq, s.dv, dtype: q.dtype)
        guard s.heads > 0, s.lq > 0, s.dv > 0 else { return out }
        // int8 rows padded to whole 4-byte words (zeros add nothing to the dot products).
        let dp = (s.d + 3) / 4 * 4, stride = dp / 4 + 1
        let (rows, keys) = (Self.attentionRows, Self.attentionKeys)
        let words = rows * stride + blockK * stride + rows * (blockK + 1) + keys * s.dv + 3 * rows
        try checkAttentionLimits(s, sharedBytes: words * 4, op)
        let nh = Int32(s.nh)

        // q and k − mean(k): int8 per block of tokens with one scale per block.
        let q8 = try empty([s.heads, s.lq, dp], dtype: .i8), qScale = try empty([s.heads, s.mq], dtype: .f32)
        let k8 = try empty([s.heads, s.lk, dp], dtype: .i8), kScale = try empty([s.heads, max(s.mk, 1)], dtype: .f32)
        let kMean = try keyMean(k, op: op)
        let quantized: [(x: Tensor, values: Tensor, scales: Tensor, len: Int, block: Int, count: Int, shift: Tensor?)] = [
            (q, q8, qScale, s.lq, blockQ, s.mq, nil), (k, k8, kScale, s.lk, blockK, s.mk, kMean),
        ]
        for (x, values, scales, len, block, count, shift) in quantized where count > 0 {
            try launch(.sageAttention, "td_sage_quantize_blocks", grid: (count, s.heads, 1), block: (256, 1, 1),
                       [.pointer(try address(values)), .pointer(try address(scales))] + headView(x, op)
                       + [.int32(nh), .int64(Int64(len)), .int32(Int32(s.d)), .int32(Int32(dp)), .int32(Int32(block)),
                          .int32(Int32(count)), .pointer(try shift.map { try address($0) } ?? 0)])
        }
        // v: per-channel scale from chunk maxima, then e4m3 ([heads, lk, dv] bytes, or for the tensor-core
        // kernel the same values as f16, transposed: [heads, dv, mk·blockK]).
        let vScale = try empty([s.heads, s.dv], dtype: .f32)
        let vChunks = max(1, (s.lk + Self.vMaxTokens - 1) / Self.vMaxTokens)
        let partial = try empty([s.heads, vChunks, s.dv], dtype: .f32)
        if s.lk > 0 {
            try launch(.sageAttention, "td_sage_v_amax", grid: (vChunks, s.heads, 1), block: (256, 1, 1),
                       sharedBytes: s.dv * 4,
                       [.pointer(try address(partial))] + headView(v, op)
                       + [.int32(nh), .int64(Int64(s.lk)), .int32(Int32(s.dv)), .int32(Int32(vChunks))])
        }
        let (g1, b1) = elementwiseGrid(s.heads * s.dv)
        try launch(.sageAttention, "td_sage_v_scale_reduce", grid: g1, block: b1, [
            .pointer(try address(vScale)), .pointer(try address(partial)), .int32(Int32(s.heads)),
            .int32(Int32(s.lk > 0 ? vChunks : 0)), .int32(Int32(s.dv)),
        ])
        let mma = sageTensorCoreKernel(s, blockK: blockK)
        let tensorCores = mma != nil
        let lkp = s.mk * blockK
        // The tensor-core kernel reads the e4m3 values as f16 (exact), transposed.
        let v8 = tensorCores ? try empty([s.heads, s.dv, max(lkp, 1)], dtype: .f16) : try empty([s.heads, s.lk, s.dv], dtype: .u8)
        if tensorCores, lkp > 0 {
            // One block per vTransposeTokens tokens and head; its f16 tile has rows of dv + 1.
            try launch(.sageAttention, "td_sage_v_quantize_t", grid: (lkp / Self.vTransposeTokens, s.heads, 1), block: (256, 1, 1),
                       sharedBytes: Self.vTransposeTokens * (s.dv + 1) * 2,
                       [.pointer(try address(v8)), .pointer(try address(vScale))] + headView(v, op)
                       + [.int32(nh), .int32(Int32(s.heads)), .int64(Int64(s.lk)), .int64(Int64(lkp)), .int32(Int32(s.dv))])
        } else if s.lk > 0 {
            let (g2, b2) = elementwiseGrid(s.heads * s.lk * s.dv)
            try launch(.sageAttention, "td_sage_v_quantize", grid: g2, block: b2,
                       [.pointer(try address(v8)), .pointer(try address(vScale))] + headView(v, op)
                       + [.int32(nh), .int32(Int32(s.heads)), .int64(Int64(s.lk)), .int32(Int32(s.dv))])
        }

        let table = blocks.isContiguous ? blocks : try contiguous(blocks)
        let exponentScale = scale * Float(1.4426950408889634)   // as the CPU: scale · log2 e, rounded to fp32
        if let mma {
            try launch(.sageAttentionMMA, mma.name, grid: (s.gridX(blockQ: blockQ), s.heads, 1), block: (128, 1, 1),
                       sharedBytes: mma.sharedBytes, [
                           .pointer(try address(out)), .int32(odt),
                           .pointer(try address(q8)), .pointer(try address(qScale)),
                           .pointer(try address(k8)), .pointer(try address(kScale)),
                           .pointer(try address(v8)), .pointer(try address(vScale)), .pointer(try address(table)),
                           .int64(Int64(s.lq)), .int64(Int64(s.lk)), .int64(Int64(lkp)), .int32(Int32(blockQ)),
                           .int32(Int32(s.keep)), .int32(Int32(s.mq)), .int32(Int32(s.mk)), .float(exponentScale), .int32(nh),
                       ] + rowStrides(out))
            return out
        }
        try launch(.sageAttention, "td_sage_attention", grid: (s.gridX(blockQ: blockQ), s.heads, 1),
                   block: (Self.attentionThreads, 1, 1), sharedBytes: words * 4, [
                       .pointer(try address(out)), .int32(odt),
                       .pointer(try address(q8)), .pointer(try address(qScale)),
                       .pointer(try address(k8)), .pointer(try address(kScale)),
                       .pointer(try address(v8)), .pointer(try address(vScale)), .pointer(try address(table)),
                       .int64(Int64(s.lq)), .int64(Int64(s.lk)), .int32(Int32(dp)), .int32(Int32(s.dv)),
                       .int32(Int32(blockQ)), .int32(Int32(blockK)), .int32(Int32(s.keep)), .int32(Int32(s.mq)),
                       .int32(Int32(s.mk)), .float(exponentScale), .int32(nh),
                   ] + rowStrides(out))
        return out
    }
}
