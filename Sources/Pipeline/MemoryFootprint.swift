import Models
import TensorCore

/// Device bytes of the models' weights and of their largest activations, from the architectures
/// alone (no file is read). The activation terms follow the code paths tensor by tensor; the
/// planner adds `MemoryPlanner.activationMargin` on top. Figures are bytes; L = tokens, D = width.
public enum MemoryFootprint {
    // MARK: Weights

    /// Bytes of a dense matrix of `elements` in `type`, or its W8A8 form (int8 + an f32 scale per
    /// 128×128 block).
    static func matrixBytes(_ rows: Int, _ cols: Int, type: DType, quantized: Bool) -> Int {
        guard quantized else { return rows * cols * type.byteSize }
        let blk = BlockQuantization.block
        return rows * cols + ((rows + blk - 1) / blk) * ((cols + blk - 1) / blk) * 4
    }

    /// One DiT block's weights as held: the block Linears (q/k/v/o of both attentions and the FFN)
    /// in the compute type or W8A8, SLA's proj_l when sparse attention runs, vectors (biases,
    /// norms, modulation) counted as f32.
    public static func ditBlockBytes(_ c: WanDiTConfig, type: DType, quantized: Bool, sparse: Bool) -> Int {
        let d = c.dim, f = c.ffnDim
        var bytes = 8 * matrixBytes(d, d, type: type, quantized: quantized)
        bytes += matrixBytes(f, d, type: type, quantized: quantized) + matrixBytes(d, f, type: type, quantized: quantized)
        var vectors = 8 * d + 4 * d + 2 * d + 6 * d + f + d      // biases of q/k/v/o ×2, norm_q/k ×2, norm3, modulation, FFN biases
        if sparse {
            bytes += c.headDim * c.headDim * type.byteSize
            vectors += c.headDim
        }
        return bytes + vectors * 4
    }

    /// The DiT's weights outside the blocks: patch, text and time embeddings, time projection, head.
    public static func ditSharedBytes(_ c: WanDiTConfig, type: DType) -> Int {
        let d = c.dim, t = type.byteSize
        let matrices = d * c.inChannels * 4 + c.textDim * d + d * d + c.frequencyDim * d + d * d + 6 * d * d + c.headOutFeatures * d
        let vectors = d + d + d + d + d + 6 * d + c.headOutFeatures + 2 * d
        return matrices * t + vectors * 4
    }

    /// All of one DiT's weights held on the device.
    public static func ditBytes(_ c: WanDiTConfig, type: DType, quantized: Bool, sparse: Bool) -> Int {
        ditSharedBytes(c, type: type) + c.numLayers * ditBlockBytes(c, type: type, quantized: quantized, sparse: sparse)
    }

    /// umT5 encoder weights on the device: the blocks (the token embedding stays in the mapped file
    /// and is read row by row on the host).
    public static func textEncoderBytes(_ c: UMT5Config, type: DType) -> Int {
        let perBlock = (4 * c.dim * c.attentionDim + 3 * c.dim * c.ffnDim) * type.byteSize
            + (2 * c.dim + c.numBuckets * c.numHeads) * 4
        return c.numLayers * perBlock + c.dim * 4
    }

    /// umT5's activations for `tokens` tokens: the residual, q/k/v/o, the gated FFN's two
    /// ffn-wide halves and their product, the per-head scores with the position bias (f32).
    public static func textEncoderActivations(_ c: UMT5Config, tokens: Int) -> Int {
        let f32 = 4
        return tokens * c.dim * f32 * 6 + tokens * c.ffnDim * f32 * 3 + 2 * c.numHeads * tokens * tokens * f32
    }

    // MARK: DiT activations

    /// The live bytes of one DiT forward at its worst moment, for a clip of `tokens` tokens.
    /// Terms per token·width element (c = compute-type bytes):
    /// - always: the block input and the residual after self-attention (f32, 4 + 4) and the
    ///   modulated norm (f32, 4);
    /// - self-attention: q, k, v after RoPE (3c), its output (c), then either the grouped SLA
    ///   linear branch (per group of g heads: φ(q), φ(k) in c, numerator, quotient, the f32 sparse
    ///   slice and the sum in f32, the projection in c: 2c + 16 + 2c per element of the group) or,
    ///   with several groups, the parts and their join (4 + 4); SageSLA adds int8 q, k and an fp8
    ///   v (3); W8A8 adds the int8 activations of each Linear's input (1);
    /// - FFN: beside the f32 terms, one 32k-row chunk's ffn-wide intermediate and its GELU (2c per
    ///   row·ffn element, + 1 for W8A8's int8 input) and the chunks' outputs with their join (2c);
    /// - dense attention: the fused kernels need no score matrix; 512 MiB is kept for the composed
    ///   path's score chunk (CUDA's `attentionScoreBudget`, f32).
    /// Plus the forward's fixed terms: RoPE tables (f32 [L, d/2] ×2), the padded text context and
    /// its embedding, the patches and the head's output.
    public static func ditActivations(_ c: WanDiTConfig, tokens l: Int, type: DType, quantized: Bool,
                                      attention: SelfAttentionKind) -> Int {
        let t = type.byteSize, ld = l * c.dim, q8 = quantized ? 1 : 0
        let base = ld * (4 + 4 + 4)
        var selfAttention = base + ld * (3 * t + t + q8)
        switch attention {
        case .original:
            selfAttention += 512 << 20
        case .sla, .sagesla:
            let heads = c.numHeads
            let group = WanDiTChunking.linearGroupHeads(heads: heads, tokens: l, headDim: c.headDim)
            let groupTemporaries = group * l * c.headDim * (2 * t + 16 + 2 * t)
            let join = group < heads ? ld * 8 : 0
            selfAttention += max(groupTemporaries, join)
            if case .sagesla = attention { selfAttention += ld * 3 }
        }
        let rows = min(l, WanDiTChunking.feedForwardRows)
        let feedForward = base + rows * c.ffnDim * (2 * t + q8) + (l > rows ? ld * 2 * t : 0)
        let fixed = l * c.headDim * 4 + c.textLength * (c.textDim + c.dim) * (4 + t) + l * (c.inChannels + c.headOutFeatures) * 4 * 2
        return max(selfAttention, feedForward) + fixed
    }
}
