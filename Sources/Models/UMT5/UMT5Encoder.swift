import TensorCore

/// Something that turns token ids into text embeddings [real length, dim] (what the DiT takes).
public protocol TextEncoding: AnyObject {
    /// Width of each embedding row.
    var embeddingDim: Int { get }
    func encode(_ tokens: TokenSequence, _ ctx: ComputeContext) throws -> Tensor
}

/// The umT5 text encoder (docs/text-encoder.md; wan/modules/t5.py T5Encoder with shared_pos=False):
/// token embedding → blocks of pre-norm self-attention with a per-block relative position
/// bias and a gated GELU(tanh) feed-forward → final T5LayerNorm. No biases, no attention
/// scaling, dropout is identity at inference.
///
/// Memory: the token embedding stays where the checkpoint has it (the mmap'd file) and only
/// the L rows a prompt uses are read; matrices are used in their stored type (bf16 weights are
/// widened inside the GEMM's packing when computing in f32), so no fp32 copy of the 11 GB of
/// umT5-XXL weights is ever made.
public final class UMT5Encoder: TextEncoding {
    public let config: UMT5Config
    let tokenEmbedding: Tensor         // token_embedding.weight [vocab, dim], host (mapped), read row by row
    let blocks: [UMT5Block]
    let norm: T5LayerNorm              // norm [dim]
    public let loadNotes: [String]

    public var embeddingDim: Int { config.dim }

    public init(_ store: WeightStore, config c: UMT5Config) throws {
        config = c
        let embedding = try store.hostTensor("token_embedding.weight", shape: [c.vocabSize, c.dim])
        guard embedding.dtype.isFloatingPoint else {
            throw ModelLoadError.unsupported("\(store.source): 'token_embedding.weight' is \(embedding.dtype); expected floats")
        }
        tokenEmbedding = embedding
        blocks = try (0..<c.numLayers).map { try UMT5Block(store, index: $0, config: c) }
        norm = try T5LayerNorm(store, "norm", dim: c.dim, eps: c.eps)
        try store.finish()
        loadNotes = store.notes
    }

    /// Rows `ids` of the embedding table, converted to `dtype`, as a host tensor [L, dim].
    func embed(_ ids: [Int], dtype: DType) throws -> Tensor {
        let table = tokenEmbedding, dim = config.dim
        for (i, id) in ids.enumerated() where id < 0 || id >= config.vocabSize {
            throw TensorError.invalidArgument("token id \(id) at position \(i) is outside the vocabulary (0..<\(config.vocabSize))")
        }
        let out = try Tensor.hostEmpty([ids.count, dim], dtype: dtype)
        let dst = try out.hostBuffer().base
        let src = UnsafeRawPointer(try table.hostBuffer().base)
        let (rowStride, colStride, size) = (table.strides[0], table.strides[1], dtype.byteSize)
        for (r, id) in ids.enumerated() {
            let first = table.offset + id * rowStride
            if table.dtype == dtype && colStride == 1 {
                (dst + r * dim * size).copyMemory(from: src + first * size, byteCount: dim * size)
            } else {
                for c in 0..<dim { storeFloat(loadFloat(src, first + c * colStride, table.dtype), dst, r * dim + c, dtype) }
            }
        }
        return out
    }

    /// T5Encoder.forward for one sequence: every row is computed, padded positions included
    /// (they attend to the real keys; nothing attends to them).
    /// ids: [L] token ids, keep: [L] (false = padding key) or nil -> [L, dim] in ctx.dtype
    public func callAsFunction(ids: [Int], keep: [Bool]?, _ ctx: ComputeContext) throws -> Tensor {
        if let keep, keep.count != ids.count {
            throw TensorError.shapeMismatch("token mask has \(keep.count) entries for \(ids.count) ids")
        }
        var x = try ctx.backend.upload(embed(ids, dtype: ctx.dtype))    // [L, dim]
        for block in blocks {
            x = try block(x, keep: keep, ctx)                          // [L, dim]
        }
        return try norm(x, ctx)                                         // [L, dim]
    }

    /// What Wan's T5EncoderModel returns: the rows of the real tokens, [realLength, dim] in
    /// ctx.dtype (the DiT zero-pads them to its text length).
    /// With the usual mask (real tokens first) only those tokens are run: masked keys get
    /// weight exp(finfo.min − max) = 0 and every other op is row-wise, so the real rows do not
    /// depend on the padded ones and the result equals the reference's first rows. Any other
    /// mask runs all L positions with the mask and keeps the first realLength rows, as the
    /// reference's `u[:v]` does.
    public func encode(_ tokens: TokenSequence, _ ctx: ComputeContext) throws -> Tensor {
        let n = tokens.realLength
        if n == 0 { return try ctx.backend.upload(Tensor.hostEmpty([0, config.dim], dtype: ctx.dtype)) }
        if tokens.isPrefixMasked {
            return try self(ids: Array(tokens.ids.prefix(n)), keep: nil, ctx)
        }
        let all = try self(ids: tokens.ids, keep: tokens.mask, ctx)
        return try ctx.backend.contiguous(all.narrowed(dim: 0, start: 0, length: n))
    }
}
