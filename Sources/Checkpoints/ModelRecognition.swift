import TensorCore

/// Which model a set of weights belongs to.
public enum ModelKind: String, Sendable, CustomStringConvertible {
    /// Wan2.1/2.2 diffusion transformer, official layout (5-D patch embedding).
    case wanDiT
    /// TurboDiffusion's DiT layout: 2-D patch embedding and/or SLA `proj_l` per block.
    case turboDiT
    /// The umT5-XXL text encoder Wan uses.
    case umt5Encoder
    /// The Wan2.1 video VAE.
    case wanVAE
    case unknown

    public var description: String {
        switch self {
        case .wanDiT: "Wan DiT (official layout)"
        case .turboDiT: "TurboDiffusion DiT"
        case .umt5Encoder: "umT5 text encoder"
        case .wanVAE: "Wan2.1 VAE"
        case .unknown: "unknown"
        }
    }
}

/// Recognition from key names and shapes only (docs/dit.md, docs/text-encoder.md, docs/vae.md); loads no values.
public struct ModelRecognition: Sendable {
    public let kind: ModelKind
    /// What precedes the model's own keys ("net.", "model."), "" when nothing does.
    public let keyPrefix: String
    /// Number of linears stored as int8 block-quantized (`int8_weight` + `scale`).
    public let quantizedLayers: Int
    public var quantized: Bool { quantizedLayers > 0 }
    /// DiT / T5 model width; VAE base channel count.
    public let dim: Int?
    public let layers: Int?
    /// DiT latent input channels (16 T2V, 36 I2V); VAE image channels.
    public let inChannels: Int?
    public let outChannels: Int?
    public let ffnDim: Int?
    public let textDim: Int?
    /// T5: from the relative position table. DiT: dim / 128, assuming head_dim 128 (§3).
    public let heads: Int?
    public let vocabSize: Int?
    /// VAE latent channels.
    public let zDim: Int?
    /// Human-readable facts, e.g. ["dim 1536", "30 layers", ...].
    public let facts: [String]

    /// One line: kind and facts.
    public var summary: String {
        var s = kind.description
        if quantized { s += ", int8 block-quantized (\(quantizedLayers) linears)" }
        if !facts.isEmpty { s += ": " + facts.joined(separator: ", ") }
        return s
    }

    public init(_ entries: [(name: String, shape: [Int], dtype: DType)]) {
        var shapes: [String: [Int]] = [:]
        for e in entries { shapes[e.name] = e.shape }
        let names = entries.map(\.name)
        var quantizedLayers = 0
        for n in names where n.hasSuffix(".int8_weight") && shapes[String(n.dropLast("int8_weight".count)) + "scale"] != nil {
            quantizedLayers += 1
        }
        self.quantizedLayers = quantizedLayers

        /// A linear's [out, in] whether stored plainly or quantized.
        func linear(_ key: String) -> [Int]? { shapes[key + ".weight"] ?? shapes[key + ".int8_weight"] }
        func blockCount(_ prefix: String) -> Int? {
            let p = prefix + "blocks."
            var ids = Set<Int>()
            for n in names where n.hasPrefix(p) {
                if let i = Int(n.dropFirst(p.count).prefix { $0 != "." }) { ids.insert(i) }
            }
            return ids.isEmpty ? nil : ids.count
        }
        func prefix(endingWith suffix: String) -> String? {
            names.first { $0 == suffix || $0.hasSuffix("." + suffix) }.map { String($0.dropLast(suffix.count)) }
        }

        var facts: [String] = []
        if let p = prefix(endingWith: "patch_embedding.weight"), let patch = shapes[p + "patch_embedding.weight"], patch.count == 5 || patch.count == 2 {
            let turbo = patch.count == 2 || names.contains { $0.contains("attn_op.local_attn.proj_l.") }
            kind = turbo ? .turboDiT : .wanDiT
            keyPrefix = p
            dim = patch[0]
            inChannels = patch.count == 5 ? patch[1] : (patch[1] % 4 == 0 ? patch[1] / 4 : nil)
            layers = blockCount(p)
            outChannels = linear(p + "head.head").flatMap { $0.count == 2 && $0[0] % 4 == 0 ? $0[0] / 4 : nil }
            ffnDim = linear(p + "blocks.0.ffn.0")?.first
            textDim = linear(p + "text_embedding.0")?.last
            heads = patch[0] % 128 == 0 ? patch[0] / 128 : nil
            vocabSize = nil
            zDim = nil
            facts.append("dim \(patch[0])")
            if let layers { facts.append("\(layers) layers") }
            if let inChannels { facts.append("\(inChannels) input channels") }
            if let outChannels { facts.append("\(outChannels) output channels") }
            if let ffnDim { facts.append("ffn \(ffnDim)") }
            if let textDim { facts.append("text dim \(textDim)") }
            if let heads { facts.append("\(heads) heads if head_dim is 128") }
            if let name = Self.knownDiT(dim: patch[0], layers: layers, inChannels: inChannels) { facts.append("matches \(name)") }
        } else if let p = prefix(endingWith: "token_embedding.weight"), let emb = shapes[p + "token_embedding.weight"], emb.count == 2,
                  names.contains(where: { $0.hasPrefix(p + "blocks.") && $0.hasSuffix(".attn.q.weight") }) {
            kind = .umt5Encoder
            keyPrefix = p
            vocabSize = emb[0]
            dim = emb[1]
            layers = blockCount(p)
            heads = shapes[p + "blocks.0.pos_embedding.embedding.weight"].flatMap { $0.count == 2 ? $0[1] : nil }
            ffnDim = shapes[p + "blocks.0.ffn.fc1.weight"]?.first
            inChannels = nil
            outChannels = nil
            textDim = nil
            zDim = nil
            facts.append("vocab \(emb[0])")
            facts.append("dim \(emb[1])")
            if let layers { facts.append("\(layers) layers") }
            if let heads { facts.append("\(heads) heads") }
            if let ffnDim { facts.append("ffn \(ffnDim)") }
        } else if let p = prefix(endingWith: "encoder.conv1.weight"), let conv = shapes[p + "encoder.conv1.weight"], conv.count == 5,
                  names.contains(where: { $0.hasPrefix(p + "decoder.") }) {
            kind = .wanVAE
            keyPrefix = p
            dim = conv[0]
            inChannels = conv[1]
            outChannels = shapes[p + "decoder.head.2.weight"]?.first
            zDim = shapes[p + "conv2.weight"]?.first ?? shapes[p + "decoder.conv1.weight"].flatMap { $0.count == 5 ? $0[1] : nil }
            layers = nil
            ffnDim = nil
            textDim = nil
            heads = nil
            vocabSize = nil
            facts.append("base channels \(conv[0])")
            if let zDim { facts.append("z \(zDim)") }
            facts.append("\(conv[1]) image channels")
        } else {
            kind = .unknown
            keyPrefix = ""
            dim = nil
            layers = nil
            inChannels = nil
            outChannels = nil
            ffnDim = nil
            textDim = nil
            heads = nil
            vocabSize = nil
            zDim = nil
        }
        if !keyPrefix.isEmpty { facts.append("keys under '\(keyPrefix)'") }
        self.facts = facts
    }

    /// The published configurations of docs/dit.md.
    private static func knownDiT(dim: Int, layers: Int?, inChannels: Int?) -> String? {
        switch (dim, layers, inChannels) {
        case (1536, 30, 16): "Wan2.1-T2V-1.3B"
        case (5120, 40, 16): "Wan2.1-T2V-14B"
        case (5120, 40, 36): "Wan2.2-I2V-A14B (one expert)"
        default: nil
        }
    }
}
