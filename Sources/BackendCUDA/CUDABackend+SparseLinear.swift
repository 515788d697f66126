import TensorCore

/// SLA's linear branch (Kernels/sla_linear.cu): φ(k) and φ(q) computed on the fly, never stored.
///
/// The kernels cover bf16/f16 q/k/v with D = Dv ∈ {64, 128} on sm_80+, each operand a row view
/// that `flashKernel` accepts (D contiguous, 16-byte aligned rows: the DiT's `[L, H·D]`
/// activations seen as `[1, H, L, D]`); everything else runs the compositions in TensorCore,
/// which define the values. Fused and composed results round to the input type at the same
/// points and differ only in fp32 summation order.
extension CUDABackend: SparseLinearBackend {
    /// Thread blocks per multiprocessor the state kernel aims for (heads × token chunks): two waves
    /// of its two resident blocks, while the fp32 partials (chunks × (D² + D) floats per head) stay
    /// small next to k and v.
    private static let stateBlocksPerMultiprocessor = 4
    /// Tokens per tile of the state kernel (`SL_TOKENS`); chunks are multiples of it.
    private static let stateTileTokens = 64
    /// Query rows per thread block of the apply kernel (`SL_ROWS`).
    private static let applyRows = 128

    /// "bf16_d128"-style suffix of the kernels for these operands, or nil when they do not cover them.
    private func slaLinearKernelSuffix(_ operands: [Tensor], d: Int, dv: Int) throws -> String? {
        guard d == dv, let first = operands.first else { return nil }
        for t in operands where try flashKernel(q: t, k: first, v: first) == nil { return nil }
        return "\(first.dtype == .bf16 ? "bf16" : "f16")_d\(d)"
    }

    public func slaLinearState(k: Tensor, v: Tensor) throws -> (kv: Tensor, kSum: Tensor) {
        let op = "slaLinearState"
        _ = try deviceBuffer(k, op)
        _ = try deviceBuffer(v, op)
        guard k.rank == 4, v.rank == 4, Array(k.shape[0..<3]) == Array(v.shape[0..<3]), k.dtype == v.dtype else {
            throw TensorError.shapeMismatch("slaLinearState k \(k.dtype)\(k.shape), v \(v.dtype)\(v.shape): expected [B, H, L, D] of one dtype")
        }
        try activate()
        let (nb, nh, l, d) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        guard l > 0, nb * nh > 0, let suffix = try slaLinearKernelSuffix([k, v], d: d, dv: v.shape[3]) else {
            return try composedSLALinearState(k: k, v: v)
        }
        let heads = nb * nh, tile = Self.stateTileTokens
        let tiles = (l + tile - 1) / tile
        let targetBlocks = Self.stateBlocksPerMultiprocessor * multiprocessorCount
        let wantedChunks = max(1, min(tiles, (targetBlocks + heads - 1) / heads))
        let chunkTokens = (tiles + wantedChunks - 1) / wantedChunks * tile
        let chunks = (l + chunkTokens - 1) / chunkTokens
        let partial = try empty([heads, chunks, d * d + d], dtype: .f32)
        try launch(.slaLinear, "td_sla_linear_state_\(suffix)", grid: (chunks, nh, nb), block: (2 * d, 1, 1), [
            .pointer(try address(partial)), .pointer(try address(k)), .pointer(try address(v)),
        ] + rowStrides(k) + rowStrides(v) + [.int64(Int64(l)), .int32(Int32(chunkTokens))])
        let kv = try empty([nb, nh, d, d], dtype: k.dtype), kSum = try empty([nb, nh, d], dtype: k.dtype)
        let (grid, threads) = elementwiseGrid(heads * (d * d + d))
        try launch(.slaLinear, "td_sla_linear_state_reduce", grid: grid, block: threads, [
            .pointer(try address(kv)), .pointer(try address(kSum)), .pointer(try address(partial)),
            .int32(Int32(heads)), .int32(Int32(chunks)), .int32(Int32(d)), .int32(Int32(d)),
            .int32(k.dtype == .bf16 ? 1 : 0),
        ])
        return (kv, kSum)
    }

    public func slaLinearApply(q: Tensor, kv: Tensor, kSum: Tensor) throws -> Tensor {
        let op = "slaLinearApply"
        for t in [q, kv, kSum] { _ = try deviceBuffer(t, op) }
        guard q.rank == 4, kv.rank == 4, kSum.rank == 3, Array(kv.shape[0..<3]) == Array(q.shape[0..<2]) + [q.shape[3]],
              kSum.shape == Array(kv.shape[0..<3]) else {
            throw TensorError.shapeMismatch("slaLinearApply q \(q.shape), kv \(kv.shape), kSum \(kSum.shape): expected [B, H, L, D], [B, H, D, Dv], [B, H, D]")
        }
        try activate()
        let (nb, nh, l, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        guard l > 0, nb * nh > 0, kv.dtype == q.dtype, kSum.dtype == q.dtype,
              let suffix = try slaLinearKernelSuffix([q], d: d, dv: kv.shape[3]) else {
            return try composedSLALinearApply(q: q, kv: kv, kSum: kSum)
        }
        // The kernel reads kv as dense 16-byte aligned rows of D elements and kSum densely.
        let kvAligned = try address(kv) % 16 == 0
        let table = kv.isContiguous && kvAligned ? kv : try contiguous(kv)
        let sums = kSum.isContiguous ? kSum : try contiguous(kSum)
        let out = try empty([nb, nh, l, d], dtype: q.dtype)
        let rows = Self.applyRows
        let sharedBytes = (rows + d) * (d + 8) * 2 + (d + rows) * 4
        guard sharedBytes <= maxSharedMemoryPerBlock else { return try composedSLALinearApply(q: q, kv: kv, kSum: kSum) }
        try launch(.slaLinear, "td_sla_linear_apply_\(suffix)", grid: ((l + rows - 1) / rows, nh, nb), block: (256, 1, 1),
                   sharedBytes: sharedBytes, [
                       .pointer(try address(out)), .pointer(try address(q)), .pointer(try address(table)),
                       .pointer(try address(sums)),
                   ] + rowStrides(q) + [.int64(Int64(l))])
        return out
    }
}
