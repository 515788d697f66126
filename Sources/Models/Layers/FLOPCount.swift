/// Floating-point operations of one model call, counted from its shapes (a multiply-add is 2 FLOP),
/// split by the kind of work so each part can be set against its own ceiling. Only the products
/// are counted (matrix products, attention's QKᵀ and PV, convolutions); norms, activations,
/// softmaxes and elementwise ops are bandwidth work and left out.
public struct FLOPCount: Equatable, Sendable {
    /// Linear layers (and 1×1 projections written as matrix products).
    public var linear: Double = 0
    /// Attention's QKᵀ and PV products (for sparse attention only the key blocks it visits) and
    /// the linear-attention products.
    public var attention: Double = 0
    /// Convolutions: 2 · output positions · C_out · C_in · kernel volume.
    public var convolution: Double = 0

    public init(linear: Double = 0, attention: Double = 0, convolution: Double = 0) {
        self.linear = linear
        self.attention = attention
        self.convolution = convolution
    }

    public var total: Double { linear + attention + convolution }

    public static func + (a: FLOPCount, b: FLOPCount) -> FLOPCount {
        FLOPCount(linear: a.linear + b.linear, attention: a.attention + b.attention, convolution: a.convolution + b.convolution)
    }

    public static func * (a: FLOPCount, k: Double) -> FLOPCount {
        FLOPCount(linear: a.linear * k, attention: a.attention * k, convolution: a.convolution * k)
    }

    /// A [rows, inFeatures] × [inFeatures, outFeatures] product.
    static func matmul(rows: Int, inFeatures: Int, outFeatures: Int) -> Double {
        2 * Double(rows) * Double(inFeatures) * Double(outFeatures)
    }

    /// Softmax attention of `queries` rows against `keys` keys with `width` = heads × head dim:
    /// QKᵀ and PV, 2 · queries · keys · width each.
    static func attention(queries: Int, keys: Int, width: Int) -> Double {
        4 * Double(queries) * Double(keys) * Double(width)
    }

    /// A convolution producing `positions` output positions of `outChannels` from `inChannels`
    /// with a kernel of `kernelVolume` taps.
    static func convolution(positions: Int, inChannels: Int, outChannels: Int, kernelVolume: Int) -> Double {
        2 * Double(positions) * Double(inChannels) * Double(outChannels) * Double(kernelVolume)
    }
}

extension WanDiTConfig {
    /// One forward on `tokens` video tokens (latent T·(H/2)·(W/2)) with `textLength` text rows:
    ///   per block: self q/k/v/o (4·d²), cross q/o on the tokens and k/v on the text rows (2·d² each),
    ///   the FFN (2·d·ffn), cross-attention against the text rows, self-attention:
    ///   dense: all tokens × all tokens; SLA/SageSLA: each query block against its kept key blocks
    ///   (⌊topk·K⌋ of K = ⌈L/blockK⌋, as the block map keeps) plus the linear branch per head
    ///   (φ(k)ᵀv, φ(q)·(φ(k)ᵀv) and the head_dim × head_dim proj_l: 3 · 2·L·D·d);
    ///   outside the blocks: the patch embedding (C_in·1·2·2 → d), the text MLP (text width → d → d),
    ///   the time MLP and modulation projections (one row each) and the head (d → C_out·4).
    public func forwardFLOPs(tokens: Int, attention kind: SelfAttentionKind) -> FLOPCount {
        let (d, l, txt) = (dim, tokens, textLength)
        var block = FLOPCount()
        block.linear = FLOPCount.matmul(rows: l, inFeatures: d, outFeatures: 4 * d)          // self q, k, v, o
            + FLOPCount.matmul(rows: l, inFeatures: d, outFeatures: 2 * d)                    // cross q, o
            + FLOPCount.matmul(rows: txt, inFeatures: d, outFeatures: 2 * d)                  // cross k, v
            + 2 * FLOPCount.matmul(rows: l, inFeatures: d, outFeatures: ffnDim)               // FFN up, down
        block.attention = FLOPCount.attention(queries: l, keys: txt, width: d)
        if let s = kind.sparse {
            let keyBlocks = (l + s.blockK - 1) / s.blockK
            let keptKeys = min(l, SparseLinearAttention.keptBlocks(topk: s.topk, keyBlocks: keyBlocks) * s.blockK)
            block.attention += FLOPCount.attention(queries: l, keys: keptKeys, width: d)
                + 3 * FLOPCount.matmul(rows: l, inFeatures: headDim, outFeatures: d)
        } else {
            block.attention += FLOPCount.attention(queries: l, keys: l, width: d)
        }
        var outer = FLOPCount()
        outer.linear = FLOPCount.matmul(rows: l, inFeatures: inChannels * 4, outFeatures: d)   // patch embedding
            + FLOPCount.matmul(rows: txt, inFeatures: textDim, outFeatures: d)
            + FLOPCount.matmul(rows: txt, inFeatures: d, outFeatures: d)                      // text MLP
            + FLOPCount.matmul(rows: 1, inFeatures: frequencyDim, outFeatures: d)
            + FLOPCount.matmul(rows: 1, inFeatures: d, outFeatures: d)                        // time MLP
            + FLOPCount.matmul(rows: 1, inFeatures: d, outFeatures: 6 * d)                    // modulation
            + FLOPCount.matmul(rows: l, inFeatures: d, outFeatures: headOutFeatures)          // head
        return block * Double(numLayers) + outer
    }
}

extension UMT5Config {
    /// The encoder on `tokens` tokens: per block q/k/v/o (dim ↔ attention width), the gated
    /// FFN (gate, fc1: dim → ffn; fc2: ffn → dim) and self-attention over all tokens.
    public func encodeFLOPs(tokens l: Int) -> FLOPCount {
        var block = FLOPCount()
        block.linear = FLOPCount.matmul(rows: l, inFeatures: dim, outFeatures: 4 * attentionDim)
            + 3 * FLOPCount.matmul(rows: l, inFeatures: dim, outFeatures: ffnDim)
        block.attention = FLOPCount.attention(queries: l, keys: l, width: attentionDim)
        return block * Double(numLayers)
    }
}

extension WanVAEConfig {
    /// Decoding a latent of `latentFrames` × `height` × `width` (the latent grid) to
    /// 1 + 4(T − 1) frames at 8× the size. Causal chunking does not change the count: every
    /// output position of every convolution is computed once. The temporal upsamplers' time
    /// convolution skips the clip's first frame (it passes through alone); the middle attention
    /// is one head over each frame's positions.
    public func decodeFLOPs(latentFrames t: Int, height h: Int, width w: Int) -> FLOPCount {
        var f = FLOPCount()
        func conv(_ frames: Int, _ hh: Int, _ ww: Int, _ cin: Int, _ cout: Int, _ taps: Int) {
            f.convolution += FLOPCount.convolution(positions: frames * hh * ww, inChannels: cin, outChannels: cout, kernelVolume: taps)
        }
        func res(_ frames: Int, _ hh: Int, _ ww: Int, _ cin: Int, _ cout: Int) {
            conv(frames, hh, ww, cin, cout, 27)
            conv(frames, hh, ww, cout, cout, 27)
            if cin != cout { conv(frames, hh, ww, cin, cout, 1) }
        }
        let dd = decoderDims
        var (frames, hh, ww) = (t, h, w)
        conv(frames, hh, ww, zDim, zDim, 1)                            // conv2 (before the decoder)
        conv(frames, hh, ww, zDim, dd[0], 27)                          // decoder.conv1
        res(frames, hh, ww, dd[0], dd[0])
        f += Self.middleAttention(frames: frames, positions: hh * ww, channels: dd[0])
        res(frames, hh, ww, dd[0], dd[0])
        for level in 0..<dimMult.count {
            var inDim = level == 0 ? dd[0] : dd[level] / 2
            for _ in 0...numResBlocks {
                res(frames, hh, ww, inDim, dd[level + 1])
                inDim = dd[level + 1]
            }
            guard level != dimMult.count - 1 else { break }
            if temporalUpsample[level] && frames > 1 {
                conv(frames - 1, hh, ww, inDim, 2 * inDim, 3)          // time_conv, all frames but the clip's first
                frames = 2 * frames - 1
            }
            (hh, ww) = (2 * hh, 2 * ww)
            conv(frames, hh, ww, inDim, inDim / 2, 9)                  // resample.1 after nearest ×2
        }
        conv(frames, hh, ww, dd.last!, imageChannels, 27)              // head
        return f
    }

    /// Encoding a clip of `videoFrames` (4n + 1) × `height` × `width` pixels to its latent: the
    /// spatial downsamplers are 3×3 stride-2 convolutions; the temporal ones a (3, 1, 1) stride-2
    /// convolution over the frames after the clip's first.
    public func encodeFLOPs(videoFrames: Int, height h: Int, width w: Int) -> FLOPCount {
        var f = FLOPCount()
        func conv(_ frames: Int, _ hh: Int, _ ww: Int, _ cin: Int, _ cout: Int, _ taps: Int) {
            f.convolution += FLOPCount.convolution(positions: frames * hh * ww, inChannels: cin, outChannels: cout, kernelVolume: taps)
        }
        func res(_ frames: Int, _ hh: Int, _ ww: Int, _ cin: Int, _ cout: Int) {
            conv(frames, hh, ww, cin, cout, 27)
            conv(frames, hh, ww, cout, cout, 27)
            if cin != cout { conv(frames, hh, ww, cin, cout, 1) }
        }
        let ed = encoderDims
        var (frames, hh, ww) = (videoFrames, h, w)
        conv(frames, hh, ww, imageChannels, ed[0], 27)                 // encoder.conv1
        for level in 0..<dimMult.count {
            var inDim = ed[level]
            for _ in 0..<numResBlocks {
                res(frames, hh, ww, inDim, ed[level + 1])
                inDim = ed[level + 1]
            }
            guard level != dimMult.count - 1 else { break }
            (hh, ww) = ((hh + 1) / 2, (ww + 1) / 2)
            conv(frames, hh, ww, inDim, inDim, 9)                      // resample.1, stride 2
            if temporalDownsample[level] {
                let windows = (frames - 1) / 2
                conv(windows, hh, ww, inDim, inDim, 3)                 // time_conv, stride 2
                frames = 1 + windows
            }
        }
        let top = ed.last!
        res(frames, hh, ww, top, top)
        f += Self.middleAttention(frames: frames, positions: hh * ww, channels: top)
        res(frames, hh, ww, top, top)
        conv(frames, hh, ww, top, 2 * zDim, 27)                        // head
        conv(frames, hh, ww, 2 * zDim, 2 * zDim, 1)                    // conv1 (after the encoder)
        return f
    }

    /// The middle block's attention: 1×1 to_qkv and proj, one head over each frame's positions.
    static func middleAttention(frames: Int, positions p: Int, channels c: Int) -> FLOPCount {
        FLOPCount(linear: Double(frames) * (FLOPCount.matmul(rows: p, inFeatures: c, outFeatures: 3 * c)
                                            + FLOPCount.matmul(rows: p, inFeatures: c, outFeatures: c)),
                  attention: Double(frames) * FLOPCount.attention(queries: p, keys: p, width: c))
    }
}

extension FLOPCount {
    public static func += (a: inout FLOPCount, b: FLOPCount) { a = a + b }
}
