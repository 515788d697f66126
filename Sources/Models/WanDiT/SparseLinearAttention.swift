import TensorCore

/// Which attention the DiT's self-attention runs (cross-attention is always dense).
public enum SelfAttentionKind: Equatable, Sendable, CustomStringConvertible {
    /// Dense softmax attention.
    case original
    /// Sparse-linear attention: exact softmax over the top `topk` share of key blocks per query
    /// block, plus a linear-attention branch over all tokens projected by the block's proj_l.
    case sla(topk: Double, blockQ: Int, blockK: Int)

    /// Upstream's block sizes for SLA (BLKQ 128, BLKK 64).
    public static func sla(topk: Double) -> SelfAttentionKind { .sla(topk: topk, blockQ: 128, blockK: 64) }

    public var description: String {
        switch self {
        case .original: "original"
        case let .sla(topk, bq, bk): "sla (top-k \(topk), blocks \(bq)×\(bk))"
        }
    }
}

/// SLA (DESIGN §7) for one block: q, k, v [B, H, L, D] after RoPE -> [B, H, L, D].
struct SparseLinearAttention {
    let projection: Linear     // blocks.N.self_attn.attn_op.local_attn.proj_l [D, D]
    let topk: Double
    let blockQ: Int
    let blockK: Int

    init(_ s: WeightStore, block: Int, headDim: Int, topk: Double, blockQ: Int, blockK: Int) throws {
        let key = "blocks.\(block).self_attn.attn_op.local_attn.proj_l"
        guard s.contains("\(key).weight") else {
            throw ModelLoadError.unsupported(
                "\(s.source): sparse-linear attention needs the SLA projection '\(key).weight', which this checkpoint lacks "
                + "(weights that were not SLA-finetuned); use --attention_type original")
        }
        projection = try Linear(s, key, in: headDim, out: headDim)
        self.topk = topk
        self.blockQ = blockQ
        self.blockK = blockK
    }

    init(projection: Linear, topk: Double, blockQ: Int, blockK: Int) {
        self.projection = projection
        self.topk = topk
        self.blockQ = blockQ
        self.blockK = blockK
    }

    /// Key blocks kept per query block: ⌊topk·K⌋, at least one.
    static func keptBlocks(topk: Double, keyBlocks: Int) -> Int {
        max(1, min(keyBlocks, Int(topk * Double(keyBlocks))))
    }

    func callAsFunction(q: Tensor, k: Tensor, v: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let l = k.shape[2], d = q.shape[3]
        let keep = Self.keptBlocks(topk: topk, keyBlocks: (l + blockK - 1) / blockK)
        let blocks = try b.slaBlockMap(q: q, k: k, blockQ: blockQ, blockK: blockK, keep: keep)
        let sparse = try b.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK,
                                                scale: 1 / Float(d).squareRoot())

        // Linear branch: φ = softmax over the head dim; o = φ(q)(φ(k)ᵀv) / (φ(q)·Σφ(k) + 1e-5).
        let phiQ = try b.softmax(q), phiK = try b.softmax(k)
        let phiKT = try phiK.transposed(2, 3)                                   // [B, H, D, L]
        let kv = try b.matmul(phiKT, v, transposeB: false, bias: nil, outputType: .f32)          // [B, H, D, D]
        let ones = try b.upload(Tensor.host([Float](repeating: 1, count: l), shape: [l, 1]))
        let kSum = try b.matmul(phiKT, ones, transposeB: false, bias: nil, outputType: .f32)     // [B, H, D, 1]
        let numerator = try b.matmul(phiQ, kv, transposeB: false, bias: nil, outputType: .f32)   // [B, H, L, D]
        let denominator = try b.matmul(phiQ, kSum, transposeB: false, bias: nil, outputType: .f32) // [B, H, L, 1]
        let linear = try b.binary(.div, numerator, b.affine(denominator, scale: 1, shift: 1e-5))
        let projected = try projection(linear, ctx)
        return try b.add(b.contiguous(sparse, dtype: .f32), projected)
    }
}
