import TensorCore

/// Which attention the DiT's self-attention runs (cross-attention is always dense).
public enum SelfAttentionKind: Equatable, Sendable, CustomStringConvertible {
    /// Dense softmax attention.
    case original
    /// Sparse-linear attention: exact softmax over the top `topk` share of key blocks per query
    /// block, plus a linear-attention branch over all tokens projected by the block's proj_l.
    case sla(topk: Double, blockQ: Int, blockK: Int)
    /// SageSLA: SLA with the sparse branch in 8-bit (int8 q/k per block, fp8 e4m3 P·V).
    case sagesla(topk: Double, blockQ: Int, blockK: Int)

    /// Upstream's block sizes for SLA (BLKQ 128, BLKK 64).
    public static func sla(topk: Double) -> SelfAttentionKind { SelfAttentionKind(name: "sla", topk: topk)! }
    /// Upstream's block sizes for SageSLA on Hopper (BLKQ 64, BLKK 128), the GPUs TurboDiffusion targets.
    public static func sagesla(topk: Double) -> SelfAttentionKind { SelfAttentionKind(name: "sagesla", topk: topk)! }

    /// The names upstream's `--attention_type` takes.
    public static let names = ["original", "sla", "sagesla"]

    /// The kind named as upstream's `--attention_type`; block sizes not given are upstream's for that
    /// kind (see `sla(topk:)` and `sagesla(topk:)`). nil for an unknown name.
    public init?(name: String, topk: Double, blockQ: Int? = nil, blockK: Int? = nil) {
        switch name {
        case "original": self = .original
        case "sla": self = .sla(topk: topk, blockQ: blockQ ?? 128, blockK: blockK ?? 64)
        case "sagesla": self = .sagesla(topk: topk, blockQ: blockQ ?? 64, blockK: blockK ?? 128)
        default: return nil
        }
    }

    /// Settings of the sparse-linear kinds; nil for dense attention.
    var sparse: (topk: Double, blockQ: Int, blockK: Int, quantized: Bool)? {
        switch self {
        case .original: nil
        case let .sla(topk, bq, bk): (topk, bq, bk, false)
        case let .sagesla(topk, bq, bk): (topk, bq, bk, true)
        }
    }

    public var description: String {
        switch self {
        case .original: "original"
        case let .sla(topk, bq, bk): "sla (top-k \(topk), blocks \(bq)×\(bk))"
        case let .sagesla(topk, bq, bk): "sagesla (top-k \(topk), blocks \(bq)×\(bk), int8 QK, fp8 PV)"
        }
    }
}

/// SLA / SageSLA (docs/dit.md) for one block: q, k, v [B, H, L, D] after RoPE -> [B, H, L, D].
struct SparseLinearAttention: WeightPlaceable {
    var projection: Linear     // blocks.N.self_attn.attn_op.local_attn.proj_l [D, D]
    let topk: Double
    let blockQ: Int
    let blockK: Int
    /// SageSLA: the sparse branch runs in 8-bit.
    var quantized = false
    /// Most bytes (counted as fp32) of one head group's linear-branch temporaries (each of φ(q), φ(k),
    /// the numerator where the backend composes the branch); the heads are processed in groups below it.
    var linearGroupBytes = WanDiTChunking.linearGroupBytes

    init(_ s: WeightStore, block: Int, headDim: Int, topk: Double, blockQ: Int, blockK: Int, quantized: Bool = false) throws {
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
        self.quantized = quantized
    }

    init(projection: Linear, topk: Double, blockQ: Int, blockK: Int, quantized: Bool = false) {
        self.projection = projection
        self.topk = topk
        self.blockQ = blockQ
        self.blockK = blockK
        self.quantized = quantized
    }

    func placed(_ move: (Tensor) throws -> Tensor) throws -> SparseLinearAttention {
        var out = self
        out.projection = try projection.placed(move)
        return out
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
        let scale = 1 / Float(d).squareRoot()
        let sparse = quantized
            ? try b.quantizedBlockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
            : try b.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)

        // The linear branch and the sum run over groups of heads, so its fp32 temporaries stay near
        // `linearGroupBytes` however long the clip (heads are independent: same values as one pass).
        let heads = q.shape[1]
        let group = WanDiTChunking.linearGroupHeads(heads: heads, tokens: q.shape[0] * l, headDim: d, groupBytes: linearGroupBytes)
        if group == heads { return try branch(q: q, k: k, v: v, sparse: sparse, ctx) }
        var parts: [Tensor] = []
        for h0 in stride(from: 0, to: heads, by: group) {
            let n = min(group, heads - h0)
            func slice(_ t: Tensor) throws -> Tensor { try t.narrowed(dim: 1, start: h0, length: n) }
            parts.append(try branch(q: slice(q), k: slice(k), v: slice(v), sparse: slice(sparse), ctx))
        }
        // Joined in [B, L, H, D] memory order and viewed back as [B, H, L, D], so merging the heads
        // into [L, H·D] tokens (WanAttention.mergeHeads) needs no second copy.
        return try b.concat(parts.map { try $0.permuted([0, 2, 1, 3]) }, dim: 2).permuted([0, 2, 1, 3])
    }


    /// sparse + proj_l(linear branch) for q, k, v [B, h, L, D] (a group of heads) -> [B, h, L, D] in
    /// q's dtype. The branch rounds where the reference does (`SparseLinearBackend`): everything in
    /// the input type, proj_l in the compute type, the sum in the sparse output's type.
    func branch(q: Tensor, k: Tensor, v: Tensor, sparse: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let state = try b.slaLinearState(k: k, v: v)                               // φ(k)ᵀv, Σφ(k)
        let linear = try b.slaLinearApply(q: q, kv: state.kv, kSum: state.kSum)   // [B, h, L, D]
        return try b.add(sparse, projection(linear, ctx))
    }
}
