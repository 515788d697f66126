/// Block-sparse attention ops used by sparse-linear attention (SLA, docs/dit.md).
/// They are protocol requirements so each backend can provide its own kernels; backends
/// that have none inherit an implementation that reports the op as unsupported.
public protocol SparseAttentionBackend {
    /// The SLA block map. q, k: [B, H, L, D]. k is smoothed by subtracting its mean over tokens;
    /// q and smoothed k are mean-pooled over blocks of `blockQ`/`blockK` tokens (a partial last
    /// block is divided by its real count); per query block the `keep` key blocks with the
    /// highest pooled score are chosen. -> i32 [B, H, ⌈L/blockQ⌉, keep] key-block indices.
    func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor

    /// Softmax attention of each query block over its selected key blocks only.
    /// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv], blocks: i32 [B, H, ⌈Lq/blockQ⌉, keep]
    /// -> [B, H, Lq, Dv] in q's dtype.
    func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor

    /// SageSLA's 8-bit sparse branch: the same selection as `blockSparseAttention`, with q int8 per
    /// `blockQ` tokens, k − mean(k) int8 per `blockK` tokens, v fp8 e4m3 per channel and the
    /// probabilities cast to fp8 e4m3 for P·V (docs/dit.md). Shapes as `blockSparseAttention`.
    func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                       scale: Float) throws -> Tensor
}

extension Backend {
    public func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor {
        guard let s = self as? any SparseAttentionBackend else {
            throw TensorError.unsupported("slaBlockMap is not implemented on \(device) yet; use --device cpu or --attention_type original")
        }
        return try s.slaBlockMap(q: q, k: k, blockQ: blockQ, blockK: blockK, keep: keep)
    }

    public func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor {
        guard let s = self as? any SparseAttentionBackend else {
            throw TensorError.unsupported("blockSparseAttention is not implemented on \(device) yet; use --device cpu or --attention_type original")
        }
        return try s.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
    }

    public func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                              scale: Float) throws -> Tensor {
        guard let s = self as? any SparseAttentionBackend else {
            throw TensorError.unsupported("quantizedBlockSparseAttention (sagesla) is not implemented on \(device) yet; use --device cpu or --attention_type original")
        }
        return try s.quantizedBlockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
    }
}

/// SLA's linear branch (docs/dit.md) as two fused ops: o = φ(q)·(φ(k)ᵀv) / (φ(q)·Σφ(k) + 1e-5) with
/// φ = softmax over the head dim. The rounding points are the reference's, which runs the branch in
/// the input type T: φ(q), φ(k), φ(k)ᵀv, Σφ(k), φ(q)·kv, each product φ(q)_c·Σφ(k)_c, their sum, the
/// sum + 1e-5 and the quotient are each rounded to T (sums and dot products accumulate in fp32).
/// For f32 inputs every rounding is exact. Backends without fused kernels inherit the compositions
/// below (`composedSLALinearState`, `composedSLALinearApply`), which define the results.
public protocol SparseLinearBackend {
    /// k: [B, H, L, D], v: [B, H, L, Dv] of one dtype T -> kv = φ(k)ᵀv [B, H, D, Dv] and
    /// kSum = Σ_tokens φ(k) [B, H, D], both in T.
    func slaLinearState(k: Tensor, v: Tensor) throws -> (kv: Tensor, kSum: Tensor)

    /// q: [B, H, L, D] in T, kv: [B, H, D, Dv] and kSum: [B, H, D] from `slaLinearState`
    /// -> φ(q)·kv / (φ(q)·kSum + 1e-5) [B, H, L, Dv] in T.
    func slaLinearApply(q: Tensor, kv: Tensor, kSum: Tensor) throws -> Tensor
}

extension Backend {
    public func slaLinearState(k: Tensor, v: Tensor) throws -> (kv: Tensor, kSum: Tensor) {
        if let s = self as? any SparseLinearBackend { return try s.slaLinearState(k: k, v: v) }
        return try composedSLALinearState(k: k, v: v)
    }

    public func slaLinearApply(q: Tensor, kv: Tensor, kSum: Tensor) throws -> Tensor {
        if let s = self as? any SparseLinearBackend { return try s.slaLinearApply(q: q, kv: kv, kSum: kSum) }
        return try composedSLALinearApply(q: q, kv: kv, kSum: kSum)
    }

    /// `slaLinearState` from primitives: φ(k) materialised in T, two matmuls rounded to T.
    public func composedSLALinearState(k: Tensor, v: Tensor) throws -> (kv: Tensor, kSum: Tensor) {
        guard k.rank == 4, v.rank == 4, Array(k.shape[0..<3]) == Array(v.shape[0..<3]), k.dtype == v.dtype else {
            throw TensorError.shapeMismatch("slaLinearState k \(k.dtype)\(k.shape), v \(v.dtype)\(v.shape): expected [B, H, L, D] of one dtype")
        }
        let (nb, nh, l, d) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        let phiKT = try softmax(k).transposed(2, 3)                                            // [B, H, D, L]
        let kv = try matmul(phiKT, v, transposeB: false, bias: nil, outputType: k.dtype)      // [B, H, D, Dv]
        let ones = try upload(Tensor.host([Float](repeating: 1, count: l), shape: [l, 1], dtype: k.dtype))
        let kSum = try matmul(phiKT, ones, transposeB: false, bias: nil, outputType: k.dtype) // [B, H, D, 1]
        return (kv, try kSum.reshaped([nb, nh, d]))
    }

    /// `slaLinearApply` from primitives: φ(q) materialised in T; the denominator as the reference
    /// forms it (products rounded to T, then summed).
    public func composedSLALinearApply(q: Tensor, kv: Tensor, kSum: Tensor) throws -> Tensor {
        guard q.rank == 4, kv.rank == 4, kSum.rank == 3, Array(kv.shape[0..<3]) == Array(q.shape[0..<2]) + [q.shape[3]],
              kSum.shape == Array(kv.shape[0..<3]) else {
            throw TensorError.shapeMismatch("slaLinearApply q \(q.shape), kv \(kv.shape), kSum \(kSum.shape): expected [B, H, L, D], [B, H, D, Dv], [B, H, D]")
        }
        let (nb, nh, d) = (q.shape[0], q.shape[1], q.shape[3])
        let phiQ = try softmax(q)                                                                 // [B, H, L, D]
        let numerator = try matmul(phiQ, kv, transposeB: false, bias: nil, outputType: q.dtype)  // [B, H, L, Dv]
        let products = try mul(phiQ, kSum.reshaped([nb, nh, 1, d]))                              // rounded to T
        let ones = try upload(Tensor.host([Float](repeating: 1, count: d), shape: [d, 1], dtype: q.dtype))
        let denominator = try matmul(products, ones, transposeB: false, bias: nil, outputType: q.dtype) // [B, H, L, 1]
        return try binary(.div, numerator, affine(denominator, scale: 1, shift: 1e-5))
    }
}
