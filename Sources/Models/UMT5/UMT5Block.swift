import TensorCore

/// T5LayerNorm: x·rsqrt(mean(x²) + eps) with fp32 statistics and no mean subtraction, the
/// normalised value cast to the weight's type, then × weight. The compute type equals the
/// weight type here (weights are converted to a narrower compute type at load), so the
/// backend's rmsNorm (normalise in fp32, round to x's type, × weight) is exactly this.
struct T5LayerNorm {
    let weight: Tensor     // <key>.weight [dim]
    let eps: Float

    init(_ store: WeightStore, _ key: String, dim: Int, eps: Float) throws {
        weight = try store.matrix("\(key).weight", shape: [dim])
        self.eps = eps
    }

    // x: [L, dim] -> [L, dim] in x's dtype
    func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        try ctx.backend.rmsNorm(x, weight: weight, eps: eps)
    }
}

/// T5 self-attention without the 1/√d scale: softmax(q·kᵀ + bias)·v, bias = the block's
/// relative position bias with masked keys set to finfo.min.
///
/// Mirrors the reference's rounding in bf16: the scores q·kᵀ are rounded to the compute type,
/// the bias is added in that type, the softmax runs in fp32 and its probabilities are rounded
/// back before P·V. (A fused fp32 attention would differ from the reference by the rounding of
/// the unscaled logits, which are large in T5.) In f32 nothing is rounded.
struct T5Attention {
    let q, k, v, o: Linear     // attn.{q,k,v} [attnDim, dim], attn.o [dim, attnDim], no bias
    let heads: Int

    init(_ s: WeightStore, _ key: String, dim: Int, attentionDim: Int, heads: Int) throws {
        q = try Linear(s, "\(key).q", in: dim, out: attentionDim, bias: false)
        k = try Linear(s, "\(key).k", in: dim, out: attentionDim, bias: false)
        v = try Linear(s, "\(key).v", in: dim, out: attentionDim, bias: false)
        o = try Linear(s, "\(key).o", in: attentionDim, out: dim, bias: false)
        self.heads = heads
    }

    // x: [L, dim], bias: [H, L, L] -> [L, dim]
    func callAsFunction(_ x: Tensor, bias: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let l = x.shape[0]
        // [L, attnDim] -> [H, L, d] (strided views)
        func split(_ t: Tensor) throws -> Tensor { try t.reshaped([l, heads, -1]).permuted([1, 0, 2]) }
        let qh = try split(q(x, ctx)), kh = try split(k(x, ctx)), vh = try split(v(x, ctx))
        let scores = try b.matmul(qh, kh, transposeB: true, bias: nil, outputType: ctx.dtype)      // [H, L, L]
        let probabilities = try b.softmax(b.add(scores, bias))                                    // [H, L, L]
        let perHead = try b.matmul(probabilities, vh, transposeB: false, bias: nil, outputType: ctx.dtype)   // [H, L, d]
        let merged = try b.contiguous(perHead.permuted([1, 0, 2])).reshaped([l, -1])               // [L, attnDim]
        return try o(merged, ctx)
    }
}

/// Gated feed-forward: fc2(fc1(x) · gelu_tanh(gate(x))), no biases.
struct T5FeedForward {
    let gate: Linear           // ffn.gate.0 [ffn, dim]
    let fc1: Linear            // ffn.fc1 [ffn, dim]
    let fc2: Linear            // ffn.fc2 [dim, ffn]

    init(_ s: WeightStore, _ key: String, dim: Int, ffnDim: Int) throws {
        gate = try Linear(s, "\(key).gate.0", in: dim, out: ffnDim, bias: false)
        fc1 = try Linear(s, "\(key).fc1", in: dim, out: ffnDim, bias: false)
        fc2 = try Linear(s, "\(key).fc2", in: ffnDim, out: dim, bias: false)
    }

    // x: [L, dim] -> [L, dim]
    func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let hidden = try b.mul(fc1(x, ctx), Self.gelu(gate(x, ctx), ctx))     // [L, ffn]
        return try fc2(hidden, ctx)
    }

    /// The reference's GELU module, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), is written out in
    /// tensor ops, so a bf16 model rounds to bf16 after every one of them (torch.pow(x, 3) on a
    /// bf16 tensor is (x·x)·x with two roundings). A single fused rounding differs from it in
    /// ~40 % of the elements and moves the tiny encoders' output by ~1e-2 relative L2, so narrow
    /// types replay the same chain of roundings; f32 uses the fused op (differences ~1e-7).
    // x: [L, ffn] -> [L, ffn]
    static func gelu(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        if x.dtype == .f32 { return try b.unary(.geluTanh, x) }
        let cube = try b.mul(b.unary(.square, x), x)                                   // pow(x, 3)
        let inner = try b.add(x, b.affine(cube, scale: 0.044_715, shift: 0))           // x + 0.044715·x³
        let th = try b.unary(.tanh, b.affine(inner, scale: Float((2 / Double.pi).squareRoot()), shift: 0))
        return try b.mul(b.affine(x, scale: 0.5, shift: 0), b.affine(th, scale: 1, shift: 1))   // (0.5·x)·(1 + tanh)
    }
}

/// One encoder block (T5SelfAttention with its own position table):
/// x += attn(norm1(x), bias); x += ffn(norm2(x)). The residual stream is in the compute type,
/// as in the reference (bf16 model: bf16 stream). fp16_clamp only acts on float16 tensors, so
/// it never applies to the f32 and bf16 paths we run.
struct UMT5Block {
    let norm1: T5LayerNorm             // blocks.N.norm1 [dim]
    let attention: T5Attention         // blocks.N.attn
    let norm2: T5LayerNorm             // blocks.N.norm2 [dim]
    let ffn: T5FeedForward             // blocks.N.ffn
    let positionTable: [Float]         // blocks.N.pos_embedding.embedding.weight [buckets, H], on the host
    let config: UMT5Config

    init(_ s: WeightStore, index i: Int, config c: UMT5Config) throws {
        let key = "blocks.\(i)"
        norm1 = try T5LayerNorm(s, "\(key).norm1", dim: c.dim, eps: c.eps)
        attention = try T5Attention(s, "\(key).attn", dim: c.dim, attentionDim: c.attentionDim, heads: c.numHeads)
        norm2 = try T5LayerNorm(s, "\(key).norm2", dim: c.dim, eps: c.eps)
        ffn = try T5FeedForward(s, "\(key).ffn", dim: c.dim, ffnDim: c.ffnDim)
        let table = try s.hostTensor("\(key).pos_embedding.embedding.weight", shape: [c.numBuckets, c.numHeads])
        guard table.dtype.isFloatingPoint else {
            throw ModelLoadError.unsupported("\(s.source): '\(key).pos_embedding.embedding.weight' is \(table.dtype); expected floats")
        }
        positionTable = try table.floats()
        config = c
    }

    /// The attention bias [H, L, L] of this block, on the backend: [H, 2L − 1] values per distance
    /// go up and the backend expands them. keep: per key, false = padding.
    func bias(length l: Int, keep: [Bool]?, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let perDistance = try RelativePositionBias.byDistance(table: positionTable, heads: config.numHeads, length: l,
                                                              numBuckets: config.numBuckets, maxDistance: config.maxDistance,
                                                              dtype: ctx.dtype)
        return try b.expandRelativeBias(b.upload(perDistance), keep: RelativePositionBias.keepMask(keep).map { try b.upload($0) },
                                        maskValue: RelativePositionBias.maskValue(ctx.dtype))
    }

    // x: [L, dim] in the compute type -> [L, dim]
    func callAsFunction(_ x: Tensor, keep: [Bool]?, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let attended = try attention(norm1(x, ctx), bias: bias(length: x.shape[0], keep: keep, ctx), ctx)
        let h = try b.add(x, attended)
        return try b.add(h, ffn(norm2(h, ctx), ctx))
    }
}
