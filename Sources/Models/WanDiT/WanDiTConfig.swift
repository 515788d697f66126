import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Architecture of a Wan diffusion transformer (patch (1, 2, 2) throughout).
public struct WanDiTConfig: Equatable, Sendable, CustomStringConvertible {
    /// Hidden width of the residual stream.
    public var dim: Int
    /// Hidden width of each block's feed-forward network.
    public var ffnDim: Int
    public var numHeads: Int
    public var numLayers: Int
    /// Latent channels in (16 for T2V; 36 = 16 noise + 4 mask + 16 image latent for I2V).
    public var inChannels: Int
    public var outChannels: Int
    /// Width of the text encoder's output (umT5-XXL: 4096).
    public var textDim: Int = 4096
    /// Rows the text context is zero-padded to; padded rows are attended (no mask).
    public var textLength: Int = 512
    /// Width of the sinusoidal timestep embedding.
    public var frequencyDim: Int = 256
    public var eps: Float = 1e-6

    public var headDim: Int { dim / numHeads }
    /// Output features of the head: out channels × patch volume (1·2·2).
    public var headOutFeatures: Int { outChannels * 4 }

    public init(dim: Int, ffnDim: Int, numHeads: Int, numLayers: Int, inChannels: Int, outChannels: Int,
                textDim: Int = 4096, textLength: Int = 512, frequencyDim: Int = 256, eps: Float = 1e-6) {
        self.dim = dim
        self.ffnDim = ffnDim
        self.numHeads = numHeads
        self.numLayers = numLayers
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.textDim = textDim
        self.textLength = textLength
        self.frequencyDim = frequencyDim
        self.eps = eps
    }

    public static let wan21T2V1_3B = WanDiTConfig(dim: 1536, ffnDim: 8960, numHeads: 12, numLayers: 30, inChannels: 16, outChannels: 16)
    public static let wan21T2V14B = WanDiTConfig(dim: 5120, ffnDim: 13824, numHeads: 40, numLayers: 40, inChannels: 16, outChannels: 16)
    public static let wan22I2VA14B = WanDiTConfig(dim: 5120, ffnDim: 13824, numHeads: 40, numLayers: 40, inChannels: 36, outChannels: 16)

    public var description: String {
        "WanDiT dim \(dim), ffn \(ffnDim), \(numHeads) heads × \(headDim), \(numLayers) layers, in \(inChannels) → out \(outChannels), text \(textDim)×\(textLength)"
    }

    /// Reads the architecture from tensor shapes alone. The head count is not stored in the
    /// weights: it comes from `headDim` (128 in every released Wan model) unless `numHeads` is given.
    public static func detect(shapes: [String: [Int]], headDim: Int = 128, numHeads: Int? = nil) throws -> WanDiTConfig {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shapes[key] else { throw ModelLoadError.unsupported("not a Wan DiT checkpoint: no '\(key)'") }
            guard s.count == rank else { throw ModelLoadError.unsupported("'\(key)' has shape \(s); expected \(rank) dimensions") }
            return s
        }
        guard let patch = shapes["patch_embedding.weight"] else {
            throw ModelLoadError.unsupported("not a Wan DiT checkpoint: no 'patch_embedding.weight'")
        }
        let dim = patch[0]
        let inChannels: Int
        switch patch.count {
        case 5 where Array(patch[2...]) == [1, 2, 2]: inChannels = patch[1]      // official [dim, in, 1, 2, 2]
        case 5: throw ModelLoadError.unsupported("patch_embedding.weight \(patch): patch size \(Array(patch[2...])) is not supported (Wan uses [1, 2, 2])")
        case 2 where patch[1] % 4 == 0: inChannels = patch[1] / 4   // TurboDiffusion [dim, in·4]
        default: throw ModelLoadError.unsupported("patch_embedding.weight has shape \(patch); expected [dim, in, 1, 2, 2] or [dim, in·4]")
        }
        // Quantized files store int8_weight in place of weight.
        let ffn = try shapes["blocks.0.ffn.0.int8_weight"].map { $0[0] } ?? shape("blocks.0.ffn.0.weight", rank: 2)[0]
        let text = try shape("text_embedding.0.weight", rank: 2)[1]
        let frequency = try shape("time_embedding.0.weight", rank: 2)[1]
        let headOut = try shape("head.head.weight", rank: 2)[0]
        guard headOut % 4 == 0 else { throw ModelLoadError.unsupported("head.head.weight has \(headOut) rows, not a multiple of the patch volume 4") }
        var layers = 0
        while shapes["blocks.\(layers).modulation"] != nil { layers += 1 }
        guard layers > 0 else { throw ModelLoadError.unsupported("not a Wan DiT checkpoint: no 'blocks.0.modulation'") }
        let heads = numHeads ?? dim / headDim
        guard heads > 0, dim % heads == 0, (dim / heads) % 2 == 0 else {
            throw ModelLoadError.unsupported("width \(dim) does not split into \(heads) heads of even size; pass the head count")
        }
        return WanDiTConfig(dim: dim, ffnDim: ffn, numHeads: heads, numLayers: layers, inChannels: inChannels,
                            outChannels: headOut / 4, textDim: text, frequencyDim: frequency)
    }

    /// The architecture of a checkpoint: every dimension from its tensor shapes (`detect`); from
    /// `config` (a diffusers-style `config.json`) only what shapes cannot tell: `num_heads`,
    /// `text_len`, `eps`. Its other known keys must agree with the weights; unknown keys are
    /// ignored. `numHeads` (a command-line flag) overrides the file's head count.
    public static func resolve(shapes: [String: [Int]], config: ModelConfigFile?, numHeads: Int? = nil,
                               headDim: Int = 128) throws -> WanDiTConfig {
        guard let config else { return try detect(shapes: shapes, headDim: headDim, numHeads: numHeads) }
        let stated = try config.integer("num_heads")
        if numHeads == nil, let stated {
            let dim = shapes["patch_embedding.weight"]?.first ?? 0
            guard stated > 0, dim % stated == 0, (dim / stated) % 2 == 0 else {
                throw ModelLoadError.invalidConfig("'num_heads' is \(stated), which does not split the weights' width \(dim) into heads of even size", source: config.path)
            }
        }
        var c = try detect(shapes: shapes, headDim: headDim, numHeads: numHeads ?? stated)
        let patch = "patch_embedding.weight \(shapes["patch_embedding.weight"]!)"
        try config.check("dim", c.dim, evidence: patch)
        try config.check("in_dim", c.inChannels, evidence: patch)
        try config.check("patch_size", [1, 2, 2], evidence: patch)
        try config.check("ffn_dim", c.ffnDim, evidence: "blocks.0.ffn.0 \(shapes["blocks.0.ffn.0.weight"] ?? shapes["blocks.0.ffn.0.int8_weight"]!)")
        try config.check("num_layers", c.numLayers, evidence: "blocks.0 … blocks.\(c.numLayers - 1)")
        try config.check("out_dim", c.outChannels, evidence: "head.head.weight \(shapes["head.head.weight"]!) = out_dim × patch volume 4")
        try config.check("text_dim", c.textDim, evidence: "text_embedding.0.weight \(shapes["text_embedding.0.weight"]!)")
        try config.check("freq_dim", c.frequencyDim, evidence: "time_embedding.0.weight \(shapes["time_embedding.0.weight"]!)")
        // Wan's model_type names the input layout: t2v takes the 16 latent channels, i2v adds mask and image latent (36).
        if case .string(let type)? = config.value("model_type"), let expected = ["t2v": 16, "i2v": 36][type], expected != c.inChannels {
            throw config.contradiction("model_type", "\"\(type)\" (\(expected) input channels)", "\(c.inChannels) input channels", patch)
        }
        if let v = try config.integer("text_len") {
            guard v > 0 else { throw ModelLoadError.invalidConfig("'text_len' must be positive, found \(v)", source: config.path) }
            c.textLength = v
        }
        if let v = try config.number("eps") {
            guard v > 0, v < 1 else { throw ModelLoadError.invalidConfig("'eps' must lie in (0, 1), found \(v)", source: config.path) }
            c.eps = Float(v)
        }
        return c
    }

    public static func resolve(tensors: [NamedTensor], config: ModelConfigFile?, numHeads: Int? = nil,
                               headDim: Int = 128) throws -> WanDiTConfig {
        try resolve(shapes: shapeMap(tensors), config: config, numHeads: numHeads, headDim: headDim)
    }

    /// `detect(shapes:)` over named tensors (model keys, prefix already stripped); a repeated
    /// name keeps its last tensor, as `WeightStore` does.
    public static func detect(tensors: [NamedTensor], headDim: Int = 128, numHeads: Int? = nil) throws -> WanDiTConfig {
        try detect(shapes: shapeMap(tensors), headDim: headDim, numHeads: numHeads)
    }
}

/// Name → shape; a repeated name keeps its last tensor, as `WeightStore` does.
func shapeMap(_ tensors: [NamedTensor]) -> [String: [Int]] {
    Dictionary(tensors.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { _, last in last })
}
