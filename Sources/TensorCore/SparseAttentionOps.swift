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
