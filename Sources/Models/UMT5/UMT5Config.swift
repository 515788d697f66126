import Checkpoints

/// Architecture of the umT5 encoder Wan uses as its text encoder (wan/modules/t5.py,
/// `umt5_xxl(encoder_only=True)`: a T5Encoder with `shared_pos=False`, i.e. every block owns
/// its relative position table).
public struct UMT5Config: Equatable, Sendable, CustomStringConvertible {
    public var vocabSize: Int
    /// Width of the residual stream (and of the token embedding).
    public var dim: Int
    /// Width of q/k/v (`dim_attn`; equal to `dim` in umT5-XXL).
    public var attentionDim: Int
    /// Hidden width of the gated feed-forward network.
    public var ffnDim: Int
    public var numHeads: Int
    public var numLayers: Int
    /// Relative position buckets (bidirectional: half for keys before the query, half after).
    public var numBuckets: Int = 32
    /// Relative distance at which the logarithmic buckets end (not stored in the weights).
    public var maxDistance: Int = 128
    /// T5LayerNorm epsilon (not stored in the weights).
    public var eps: Float = 1e-6

    public var headDim: Int { attentionDim / numHeads }

    public init(vocabSize: Int, dim: Int, attentionDim: Int? = nil, ffnDim: Int, numHeads: Int, numLayers: Int,
                numBuckets: Int = 32, maxDistance: Int = 128, eps: Float = 1e-6) {
        self.vocabSize = vocabSize
        self.dim = dim
        self.attentionDim = attentionDim ?? dim
        self.ffnDim = ffnDim
        self.numHeads = numHeads
        self.numLayers = numLayers
        self.numBuckets = numBuckets
        self.maxDistance = maxDistance
        self.eps = eps
    }

    /// umT5-XXL, the encoder of `models_t5_umt5-xxl-enc-bf16.pth` (docs/text-encoder.md).
    public static let umt5XXL = UMT5Config(vocabSize: 256_384, dim: 4096, attentionDim: 4096, ffnDim: 10_240,
                                           numHeads: 64, numLayers: 24, numBuckets: 32, maxDistance: 128, eps: 1e-6)

    public var description: String {
        "umT5 encoder vocab \(vocabSize), dim \(dim), \(numHeads) heads × \(headDim), ffn \(ffnDim), \(numLayers) layers, "
            + "\(numBuckets) buckets up to distance \(maxDistance)"
    }

    /// Reads the architecture from tensor shapes (model keys, prefix already stripped). The
    /// head count and bucket count come from the first block's position table [buckets, heads];
    /// `maxDistance` and `eps` are not stored and keep umT5's values.
    public static func detect(shapes: [String: [Int]]) throws -> UMT5Config {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shapes[key] else { throw ModelLoadError.unsupported("not a umT5 encoder checkpoint: no '\(key)'") }
            guard s.count == rank else { throw ModelLoadError.unsupported("'\(key)' has shape \(s); expected \(rank) dimensions") }
            return s
        }
        let embedding = try shape("token_embedding.weight", rank: 2)
        let q = try shape("blocks.0.attn.q.weight", rank: 2)
        let table = try shape("blocks.0.pos_embedding.embedding.weight", rank: 2)
        let fc1 = try shape("blocks.0.ffn.fc1.weight", rank: 2)
        var layers = 0
        while shapes["blocks.\(layers).norm1.weight"] != nil { layers += 1 }
        let c = UMT5Config(vocabSize: embedding[0], dim: embedding[1], attentionDim: q[0], ffnDim: fc1[0],
                           numHeads: table[1], numLayers: layers, numBuckets: table[0])
        guard c.numHeads > 0, c.attentionDim % c.numHeads == 0 else {
            throw ModelLoadError.unsupported("attention width \(c.attentionDim) does not split into \(c.numHeads) heads (from the position table \(table))")
        }
        guard c.numBuckets >= 4, c.numBuckets % 2 == 0 else {
            throw ModelLoadError.unsupported("position table \(table): a bidirectional bucket count must be even and at least 4")
        }
        return c
    }

    /// `detect(shapes:)` over named tensors; a repeated name keeps its last tensor, as `WeightStore` does.
    public static func detect(tensors: [NamedTensor]) throws -> UMT5Config {
        try detect(shapes: shapeMap(tensors))
    }

    /// The architecture from the shapes (`detect`), with what they cannot tell from `config` (a
    /// Hugging Face T5 `config.json`): `relative_attention_max_distance` and `layer_norm_epsilon`.
    /// Its shape-determined keys must agree with the weights; unknown keys are ignored.
    public static func resolve(shapes: [String: [Int]], config: ModelConfigFile?) throws -> UMT5Config {
        var c = try detect(shapes: shapes)
        guard let config else { return c }
        let embedding = "token_embedding.weight \(shapes["token_embedding.weight"]!)"
        let table = "blocks.0.pos_embedding.embedding.weight \(shapes["blocks.0.pos_embedding.embedding.weight"]!)"
        try config.check("vocab_size", c.vocabSize, evidence: embedding)
        try config.check("d_model", c.dim, evidence: embedding)
        try config.check("d_kv", c.headDim, evidence: "blocks.0.attn.q.weight \(shapes["blocks.0.attn.q.weight"]!) over \(c.numHeads) heads")
        try config.check("d_ff", c.ffnDim, evidence: "blocks.0.ffn.fc1.weight \(shapes["blocks.0.ffn.fc1.weight"]!)")
        try config.check("num_heads", c.numHeads, evidence: table)
        try config.check("relative_attention_num_buckets", c.numBuckets, evidence: table)
        try config.check("num_layers", c.numLayers, evidence: "blocks.0 … blocks.\(c.numLayers - 1)")
        if let v = try config.integer("relative_attention_max_distance") {
            guard v > c.numBuckets / 4 else {   // the logarithmic buckets start at a quarter of the buckets
                throw ModelLoadError.invalidConfig("'relative_attention_max_distance' is \(v); it must exceed a quarter of the \(c.numBuckets) buckets", source: config.path)
            }
            c.maxDistance = v
        }
        if let v = try config.number("layer_norm_epsilon") {
            guard v > 0, v < 1 else { throw ModelLoadError.invalidConfig("'layer_norm_epsilon' must lie in (0, 1), found \(v)", source: config.path) }
            c.eps = Float(v)
        }
        return c
    }

    public static func resolve(tensors: [NamedTensor], config: ModelConfigFile?) throws -> UMT5Config {
        try resolve(shapes: shapeMap(tensors), config: config)
    }
}
