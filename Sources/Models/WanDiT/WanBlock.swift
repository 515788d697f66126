import TensorCore

/// Attention projections shared by Wan's self- and cross-attention: q/k/v/o Linears with
/// RMSNorm on q and k over the full width (before splitting heads).
struct WanAttention {
    var q, k, v, o: Linear
    var normQ, normK: RMSNorm
    let heads: Int
    /// Set for self-attention running SLA.
    var sparse: SparseLinearAttention?

    init(_ s: WeightStore, _ key: String, dim: Int, heads: Int, eps: Float) throws {
        q = try Linear(s, "\(key).q", in: dim, out: dim, quantizable: true)
        k = try Linear(s, "\(key).k", in: dim, out: dim, quantizable: true)
        v = try Linear(s, "\(key).v", in: dim, out: dim, quantizable: true)
        o = try Linear(s, "\(key).o", in: dim, out: dim, quantizable: true)
        normQ = try RMSNorm(s, "\(key).norm_q", dim: dim, eps: eps)
        normK = try RMSNorm(s, "\(key).norm_k", dim: dim, eps: eps)
        self.heads = heads
    }

    /// [L, dim] -> [1, H, L, d] (a strided view).
    func splitHeads(_ x: Tensor) throws -> Tensor {
        let l = x.shape[0], d = x.shape[1] / heads
        return try x.reshaped([1, l, heads, d]).permuted([0, 2, 1, 3])
    }

    /// [1, H, L, d] -> [L, H·d].
    func mergeHeads(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let l = x.shape[2]
        return try ctx.backend.contiguous(x.permuted([0, 2, 1, 3])).reshaped([l, -1])
    }

    // x: [L, dim], rope tables [L, d/2] -> [L, dim]. With a shard, x and rope are this rank's tokens
    // and the attention itself runs over all tokens for this rank's heads (docs/multi-gpu.md).
    func selfAttention(_ x: Tensor, rope: (cos: Tensor, sin: Tensor), shard: SequenceShard? = nil, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let l = x.shape[0], d = x.shape[1] / heads
        // RMSNorm over the full width, then RoPE per head: [L, dim] -> [L, H, d] (one fused pass).
        // q, k and v of one x: W8A8 quantises x once for the three; each raw projection is dropped as
        // soon as it is normalised (dense ones are made one at a time).
        var shared = try Linear.applyQuantized([q, k, v], to: x, ctx)
        func projected(_ layer: Linear) throws -> Tensor { shared != nil ? shared!.removeFirst() : try layer(x, ctx) }
        let qs = try b.rmsNormRotary(projected(q), weight: normQ.weight, eps: normQ.eps, cos: rope.cos, sin: rope.sin, heads: heads)
        let ks = try b.rmsNormRotary(projected(k), weight: normK.weight, eps: normK.eps, cos: rope.cos, sin: rope.sin, heads: heads)
        let vs = try projected(v)
        let (qh, kh, vh) = try shard.map { try $0.allTokens(q: qs, k: ks, v: vs.reshaped([l, heads, d]), b) }
            ?? (try splitHeads(qs.reshaped([l, -1])), try splitHeads(ks.reshaped([l, -1])), try splitHeads(vs))
        let a = try sparse.map { try $0(q: qh, k: kh, v: vh, ctx) }
            ?? b.attention(q: qh, k: kh, v: vh, scale: 1 / Float(d).squareRoot(), bias: nil)
        return try o(shard.map { try $0.ownTokens(a, b) } ?? mergeHeads(a, ctx), ctx)
    }

    // x: [L, dim], context: [Lc, dim] -> [L, dim]
    func crossAttention(_ x: Tensor, context: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let d = x.shape[1] / heads
        let a = try ctx.backend.attention(q: splitHeads(normQ(q(x, ctx), ctx)), k: splitHeads(normK(k(context, ctx), ctx)),
                                          v: splitHeads(v(context, ctx)), scale: 1 / Float(d).squareRoot(), bias: nil)
        return try o(mergeHeads(a, ctx), ctx)
    }
}

/// One transformer block: modulated self-attention with 3-D RoPE, cross-attention to the
/// text, modulated GELU(tanh) feed-forward. Residual stream, norms and gates in fp32.
struct WanBlock {
    var modulation: Tensor         // blocks.N.modulation [1, 6, dim]
    var selfAttention: WanAttention
    var norm3: LayerNorm           // blocks.N.norm3 (affine)
    var crossAttention: WanAttention
    var ffnIn: Linear              // blocks.N.ffn.0 [ffn, dim]
    var ffnOut: Linear             // blocks.N.ffn.2 [dim, ffn]
    let eps: Float

    init(_ s: WeightStore, index i: Int, config c: WanDiTConfig, attention: SelfAttentionKind) throws {
        let key = "blocks.\(i)"
        modulation = try s.take("\(key).modulation", shape: [1, 6, c.dim])
        var selfAttention = try WanAttention(s, "\(key).self_attn", dim: c.dim, heads: c.numHeads, eps: c.eps)
        if let p = attention.sparse {
            selfAttention.sparse = try SparseLinearAttention(s, block: i, headDim: c.headDim, topk: p.topk, blockQ: p.blockQ,
                                                             blockK: p.blockK, quantized: p.quantized)
        }
        self.selfAttention = selfAttention
        norm3 = try LayerNorm(s, "\(key).norm3", dim: c.dim, eps: c.eps)
        crossAttention = try WanAttention(s, "\(key).cross_attn", dim: c.dim, heads: c.numHeads, eps: c.eps)
        ffnIn = try Linear(s, "\(key).ffn.0", in: c.dim, out: c.ffnDim, quantizable: true)
        ffnOut = try Linear(s, "\(key).ffn.2", in: c.ffnDim, out: c.dim, quantizable: true)
        eps = c.eps
    }

    // x: [L, dim] f32 (this rank's tokens with a shard), e0: [6, dim] f32, context: [textLen, dim] -> [L, dim] f32
    func callAsFunction(_ x: Tensor, e0: Tensor, context: Tensor, rope: (cos: Tensor, sin: Tensor), shard: SequenceShard? = nil,
                        _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let m = try b.add(e0, modulation)                       // [1, 6, dim] f32 (e0 first keeps f32)
        func chunk(_ i: Int) throws -> Tensor { try m.selected(dim: 1, index: i) }   // [1, dim]
        // Self-attention on LN(x)·(1 + e1) + e0 (rounded once to the compute dtype, as the Linears
        // would round it), gated by e2.
        var h = try b.modulatedLayerNorm(x, scale: chunk(1), shift: chunk(0), eps: eps, outputType: ctx.dtype)
        var y = try selfAttention.selfAttention(h, rope: rope, shard: shard, ctx)
        var out = try b.gatedResidual(x, y, gate: chunk(2))

        // Cross-attention on LN3(x) (affine), ungated.
        // LN3 straight to the compute dtype when q rounds its input to it anyway (one pass, same values).
        let h3 = crossAttention.q.roundsInputToComputeType ? try norm3(out, ctx, outputType: ctx.dtype) : try norm3(out, ctx)
        y = try crossAttention.crossAttention(h3, context: context, ctx)
        out = try b.add(out, y)

        // Feed-forward on LN(x)·(1 + e4) + e3, gated by e5.
        h = try b.modulatedLayerNorm(out, scale: chunk(4), shift: chunk(3), eps: eps, outputType: ctx.dtype)
        y = try feedForward(h, ctx)
        return try b.gatedResidual(out, y, gate: chunk(5))
    }

    /// Token rows per FFN pass (see `WanDiTChunking.feedForwardRows`).
    static let feedForwardRows = WanDiTChunking.feedForwardRows

    // h: [L, dim] -> [L, dim] in the context's dtype
    func feedForward(_ h: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let rows = h.shape[0], step = Self.feedForwardRows
        func pass(_ x: Tensor) throws -> Tensor { try ffnOut(ffnIn.geluTanh(x, ctx), ctx) }
        if rows <= step { return try pass(h) }
        let parts = try stride(from: 0, to: rows, by: step).map { try pass(h.narrowed(dim: 0, start: $0, length: min(step, rows - $0))) }
        return try ctx.backend.concat(parts, dim: 0)
    }
}

extension WanAttention: WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> WanAttention {
        var out = self
        (out.q, out.k, out.v, out.o) = (try q.placed(move), try k.placed(move), try v.placed(move), try o.placed(move))
        (out.normQ, out.normK) = (try normQ.placed(move), try normK.placed(move))
        out.sparse = try sparse?.placed(move)
        return out
    }
}

extension WanBlock: WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> WanBlock {
        var out = self
        out.modulation = try move(modulation)
        out.selfAttention = try selfAttention.placed(move)
        out.norm3 = try norm3.placed(move)
        out.crossAttention = try crossAttention.placed(move)
        (out.ffnIn, out.ffnOut) = (try ffnIn.placed(move), try ffnOut.placed(move))
        return out
    }
}
