import Checkpoints

/// The VAE's architecture read from its weights: widths, level multipliers, residual blocks per
/// level and which level transitions resample time all show in the key set and shapes.
extension WanVAEConfig {
    /// Reads the architecture from the encoder's keys when the checkpoint has them, else from the
    /// decoder's (keys without any prefix). A decoder alone cannot tell the first multiplier
    /// apart from the base width: it is taken as 1, as in every Wan VAE.
    public static func detect(shapes: [String: [Int]]) throws -> WanVAEConfig {
        if shapes["encoder.conv1.weight"] != nil { return try fromEncoder(shapes) }
        if shapes["decoder.conv1.weight"] != nil { return try fromDecoder(shapes) }
        throw ModelLoadError.unsupported("not a Wan2.1 VAE checkpoint: no 'decoder.conv1.weight'/'decoder.head.2.weight' (or encoder.*) found")
    }

    public static func detect(tensors: [NamedTensor]) throws -> WanVAEConfig {
        try detect(shapes: shapeMap(tensors))
    }

    /// One level stack (`encoder.downsamples` or `decoder.upsamples`): per level the output widths
    /// of its residual blocks, and per transition whether it has a time_conv.
    private static func levels(_ shapes: [String: [Int]], _ prefix: String) throws -> (widths: [[Int]], temporal: [Bool]) {
        var widths: [[Int]] = [[]], temporal: [Bool] = []
        var i = 0
        while true {
            let key = "\(prefix).\(i)"
            if let w = shapes["\(key).residual.2.weight"] {
                guard w.count == 5 else { throw ModelLoadError.unsupported("'\(key).residual.2.weight' has shape \(w); expected 5 dimensions") }
                widths[widths.count - 1].append(w[0])
            } else if shapes["\(key).resample.1.weight"] != nil {
                temporal.append(shapes["\(key).time_conv.weight"] != nil)
                widths.append([])
            } else {
                break
            }
            i += 1
        }
        guard i > 0, !widths.contains(where: \.isEmpty) else {
            throw ModelLoadError.unsupported("not a Wan2.1 VAE checkpoint: '\(prefix)' has no residual blocks, or a level without any")
        }
        return (widths, temporal)
    }

    private static func shape(_ shapes: [String: [Int]], _ key: String) throws -> [Int] {
        guard let s = shapes[key] else { throw ModelLoadError.unsupported("not a Wan2.1 VAE checkpoint: no '\(key)'") }
        guard s.count == 5 else { throw ModelLoadError.unsupported("'\(key)' has shape \(s); expected 5 dimensions") }
        return s
    }

    /// `widths`: per level (encoder order) the residual blocks' widths, `blocksPerLevel` of them.
    private static func make(base: Int, z: Int, image: Int, widths: [[Int]], temporal: [Bool], blocksPerLevel: Int,
                             numResBlocks: Int) throws -> WanVAEConfig {
        var c = WanVAEConfig(dim: base, zDim: z)
        c.imageChannels = image
        c.numResBlocks = numResBlocks
        c.temporalDownsample = temporal
        c.dimMult = try widths.map { level in
            guard level.count == blocksPerLevel, let w = level.last, level.allSatisfy({ $0 == w }), base > 0, w % base == 0 else {
                throw ModelLoadError.unsupported("VAE level widths \(widths) are not \(blocksPerLevel) equal multiples of the base width \(base) per level")
            }
            return w / base
        }
        return c
    }

    private static func fromEncoder(_ shapes: [String: [Int]]) throws -> WanVAEConfig {
        let conv = try shape(shapes, "encoder.conv1.weight"), head = try shape(shapes, "encoder.head.2.weight")
        guard head[0] % 2 == 0 else { throw ModelLoadError.unsupported("encoder.head.2.weight \(head): expected 2·z output channels (mean and log-variance)") }
        let (widths, temporal) = try levels(shapes, "encoder.downsamples")
        return try make(base: conv[0], z: head[0] / 2, image: conv[1], widths: widths, temporal: temporal,
                        blocksPerLevel: widths[0].count, numResBlocks: widths[0].count)
    }

    private static func fromDecoder(_ shapes: [String: [Int]]) throws -> WanVAEConfig {
        let conv = try shape(shapes, "decoder.conv1.weight"), head = try shape(shapes, "decoder.head.2.weight")
        let (widths, temporal) = try levels(shapes, "decoder.upsamples")
        // The decoder runs numResBlocks + 1 residual blocks per level, widest level first.
        let perLevel = widths[0].count
        guard perLevel >= 2 else { throw ModelLoadError.unsupported("VAE decoder levels hold \(perLevel) residual block(s); Wan's hold at least 2") }
        return try make(base: head[1], z: conv[1], image: head[0], widths: widths.reversed(), temporal: temporal.reversed(),
                        blocksPerLevel: perLevel, numResBlocks: perLevel - 1)
    }

    /// The architecture from the shapes (`detect`), with the latent statistics from `config` (a
    /// diffusers `AutoencoderKLWan` config.json: `latents_mean`, `latents_std`). Its
    /// shape-determined keys (`base_dim`, `z_dim`, `dim_mult`, `num_res_blocks`,
    /// `temperal_downsample`, diffusers' spelling) must agree with the weights; unknown keys are ignored.
    public static func resolve(shapes: [String: [Int]], config: ModelConfigFile?) throws -> WanVAEConfig {
        var c = try detect(shapes: shapes)
        guard let config else { return c }
        let side = shapes["encoder.conv1.weight"] != nil ? "encoder" : "decoder"
        let evidence = "the \(side)'s \(side).conv1/head.2 and level shapes"
        try config.check("base_dim", c.dim, evidence: evidence)
        try config.check("z_dim", c.zDim, evidence: evidence)
        try config.check("dim_mult", c.dimMult, evidence: evidence)
        try config.check("num_res_blocks", c.numResBlocks, evidence: evidence)
        try config.check("temperal_downsample", c.temporalDownsample, evidence: "time_conv weights in the \(side)'s resamples")
        for (key, path) in [("latents_mean", \WanVAEConfig.mean), ("latents_std", \WanVAEConfig.std)] {
            guard let v = try config.numbers(key) else { continue }
            guard v.count == c.zDim else {
                throw ModelLoadError.invalidConfig("'\(key)' holds \(v.count) numbers; the weights have \(c.zDim) latent channels", source: config.path)
            }
            if key == "latents_std", let bad = v.first(where: { !($0 > 0) }) {
                throw ModelLoadError.invalidConfig("'latents_std' holds \(bad); every entry must be positive", source: config.path)
            }
            c[keyPath: path] = v
        }
        return c
    }

    public static func resolve(tensors: [NamedTensor], config: ModelConfigFile?) throws -> WanVAEConfig {
        try resolve(shapes: shapeMap(tensors), config: config)
    }
}
