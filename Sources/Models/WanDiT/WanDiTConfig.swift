import Checkpoints
import Foundation

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
        func shape(_ key: String) throws -> [Int] {
            guard let s = shapes[key] else { throw ModelLoadError.unsupported("not a Wan DiT checkpoint: no '\(key)'") }
            return s
        }
        let patch = try shape("patch_embedding.weight")
        let dim = patch[0]
        let inChannels: Int
        switch patch.count {
        case 5: inChannels = patch[1]                     // official [dim, in, 1, 2, 2]
        case 2 where patch[1] % 4 == 0: inChannels = patch[1] / 4   // TurboDiffusion [dim, in·4]
        default: throw ModelLoadError.unsupported("patch_embedding.weight has shape \(patch); expected [dim, in, 1, 2, 2] or [dim, in·4]")
        }
        // Quantized files store int8_weight in place of weight.
        let ffn = try (shapes["blocks.0.ffn.0.int8_weight"] ?? shape("blocks.0.ffn.0.weight"))[0]
        let text = try shape("text_embedding.0.weight")[1]
        let headOut = try shape("head.head.weight")[0]
        guard headOut % 4 == 0 else { throw ModelLoadError.unsupported("head.head.weight has \(headOut) rows, not a multiple of the patch volume 4") }
        var layers = 0
        while shapes["blocks.\(layers).modulation"] != nil { layers += 1 }
        let heads = numHeads ?? dim / headDim
        guard heads > 0, dim % heads == 0, (dim / heads) % 2 == 0 else {
            throw ModelLoadError.unsupported("width \(dim) does not split into \(heads) heads of even size; pass the head count")
        }
        return WanDiTConfig(dim: dim, ffnDim: ffn, numHeads: heads, numLayers: layers, inChannels: inChannels,
                            outChannels: headOut / 4, textDim: text)
    }

    /// `detect(shapes:)` over named tensors (model keys, prefix already stripped); a repeated
    /// name keeps its last tensor, as `WeightStore` does.
    public static func detect(tensors: [NamedTensor], headDim: Int = 128, numHeads: Int? = nil) throws -> WanDiTConfig {
        try detect(shapes: Dictionary(tensors.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { _, last in last }),
                   headDim: headDim, numHeads: numHeads)
    }

    /// Reads a diffusers-style `config.json` (official Wan repositories ship one beside the weights).
    public static func fromConfigJSON(_ data: Data) throws -> WanDiTConfig {
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelLoadError.unsupported("config.json is not a JSON object")
        }
        func int(_ k: String) throws -> Int {
            guard let v = obj[k] as? Int else { throw ModelLoadError.unsupported("config.json lacks integer '\(k)'") }
            return v
        }
        var c = WanDiTConfig(dim: try int("dim"), ffnDim: try int("ffn_dim"), numHeads: try int("num_heads"),
                             numLayers: try int("num_layers"), inChannels: try int("in_dim"), outChannels: try int("out_dim"))
        if let v = obj["text_dim"] as? Int { c.textDim = v }
        if let v = obj["text_len"] as? Int { c.textLength = v }
        if let v = obj["freq_dim"] as? Int { c.frequencyDim = v }
        if let v = obj["eps"] as? Double { c.eps = Float(v) }
        return c
    }
}
