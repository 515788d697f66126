import TensorCore

/// Spatial tiling for clips that do not fit in memory: the latent grid is cut into overlapping
/// tiles, each tile goes through the VAE on its own (all frames, streamed), and the results are
/// blended with linear ramps across the overlaps. The low-resolution part with the middle attention
/// always runs on whole frames (see `decode(_:_:streaming:tiling:)`); near tile borders the
/// upper levels' convolutions miss the context outside the tile, which the ramps hide. Not exact:
/// the error is stated in docs/vae.md.
public struct VAETiling: Sendable, Equatable, CustomStringConvertible {
    /// Tile size and overlap in latent pixels (×8 in the video).
    public var height: Int
    public var width: Int
    public var overlap: Int
    /// Width of the blend ramp as a share of the overlap (centred in it; 1 = across all of it).
    public var rampFraction: Double = 0.25

    public init(height: Int, width: Int, overlap: Int) throws {
        guard height >= 1, width >= 1, overlap >= 0, overlap < min(height, width) else {
            throw TensorError.invalidArgument("VAE tile \(height)×\(width) with overlap \(overlap): sizes must be positive and the overlap smaller than both")
        }
        self.height = height
        self.width = width
        self.overlap = overlap
    }

    public var description: String { "\(height)×\(width) latent pixels, overlap \(overlap)" }

    /// Start offsets of tiles of `size` covering 0..<n with at least `overlap` shared; the last tile ends at n.
    static func starts(_ n: Int, size: Int, overlap: Int) -> [Int] {
        guard size < n else { return [0] }
        var out: [Int] = []
        var s = 0
        while s + size < n {
            out.append(s)
            s += size - overlap
        }
        out.append(n - size)
        return out
    }

    /// Blend weights of one tile along one axis (in output pixels). Where a neighbour shares the
    /// first (`hasBefore`) or last (`hasAfter`) `overlap` pixels, the weight is 0 on the outer part
    /// of the overlap, rises linearly over its central `ramp` pixels and is 1 beyond: the two
    /// tiles' weights sum to 1 and each uses its pixels at least (overlap − ramp)/2 from its edge,
    /// where the missing outside context matters least.
    static func ramp(length: Int, overlap: Int, ramp: Int, hasBefore: Bool, hasAfter: Bool) -> [Float] {
        let r = max(1, min(ramp, overlap)), margin = Float(overlap - r) / 2
        func rise(_ d: Int) -> Float { min(1, max(0, (Float(d) + 0.5 - margin) / Float(r))) }   // d: pixels from the edge
        return (0..<length).map { i in
            var v: Float = 1
            if overlap > 0 && hasBefore && i < overlap { v = min(v, rise(i)) }
            if overlap > 0 && hasAfter && i >= length - overlap { v = min(v, rise(length - 1 - i)) }
            return v
        }
    }

    /// Runs `tile(y0, x0, h, w)` (latent coordinates) over the grid of a latent of `height`×`width`
    /// and blends the results, each [C, T, h·scale, w·scale], into one host tensor [C, T, height·scale, width·scale].
    func blend(height: Int, width: Int, scale: Int, _ tile: (Int, Int, Int, Int) throws -> Tensor) throws -> Tensor {
        let th = min(self.height, height), tw = min(self.width, width)
        let ys = Self.starts(height, size: th, overlap: overlap), xs = Self.starts(width, size: tw, overlap: overlap)
        let outH = height * scale, outW = width * scale, ov = overlap * scale
        let ramp = rampFraction >= 1 ? ov : max(1, Int((Double(ov) * rampFraction).rounded()))
        var weight = [Float](repeating: 0, count: outH * outW)
        var result: Tensor?                        // accumulated in place: the only full-size copy
        for (iy, y0) in ys.enumerated() {
            for (ix, x0) in xs.enumerated() {
                let r = try tile(y0, x0, th, tw)
                let (c, t, rh, rw) = (r.shape[0], r.shape[1], r.shape[2], r.shape[3])
                precondition(rh == th * scale && rw == tw * scale, "tile result \(r.shape) for a \(th)×\(tw) tile")
                if result == nil {
                    result = try Tensor.hostEmpty([c, t, outH, outW])
                    try result!.hostBuffer().base.initializeMemory(as: Float.self, repeating: 0, count: c * t * outH * outW)
                }
                let acc = try result!.hostBuffer().base.assumingMemoryBound(to: Float.self)
                let wy = Self.ramp(length: rh, overlap: ov, ramp: ramp, hasBefore: iy > 0, hasAfter: iy < ys.count - 1)
                let wx = Self.ramp(length: rw, overlap: ov, ramp: ramp, hasBefore: ix > 0, hasAfter: ix < xs.count - 1)
                let values = try r.floats()
                let oy = y0 * scale, ox = x0 * scale
                for y in 0..<rh { for x in 0..<rw { weight[(oy + y) * outW + ox + x] += wy[y] * wx[x] } }
                for plane in 0..<(c * t) {
                    let src = plane * rh * rw, dst = plane * outH * outW
                    for y in 0..<rh {
                        let m = wy[y]
                        for x in 0..<rw { acc[dst + (oy + y) * outW + ox + x] += values[src + y * rw + x] * m * wx[x] }
                    }
                }
            }
        }
        let out = result!
        let acc = try out.hostBuffer().base.assumingMemoryBound(to: Float.self)
        for plane in 0..<(out.shape[0] * out.shape[1]) {
            for i in 0..<(outH * outW) { acc[plane * outH * outW + i] /= weight[i] }
        }
        return out
    }
}

// MARK: - Tiled decode and encode

extension WanVAE {
    /// `decode` tile by tile, for a tiling smaller than the latent. z: [16, T, h, w] -> [3, F, 8h, 8w] f32.
    ///
    /// The decoder's low-resolution head (conv1, the middle blocks with the attention, level 0: the
    /// stages before the first resampler) runs on the whole latent grid, streamed, and its output
    /// [384, T, h, w] is kept; each tile then streams its crop of that through the rest. The
    /// attention therefore sees whole frames, and tiles differ from the untiled pass only where
    /// the upper levels' convolutions reach past the tile, which the overlap's ramps cover.
    func decodeTiles(_ z: Tensor, _ ctx: ComputeContext, streaming: VAEStreaming, tiling: VAETiling) throws -> Tensor {
        let b = ctx.backend
        let x = try decoderInput(z, ctx)
        let stem = try Self.stream(decoderStages[..<decoderSplit], x, VAECausalState(slots: decoderSlots), ctx,
                                   streaming, encoding: false)!                                   // [C0, T, h, w]
        let video = try tiling.blend(height: z.shape[2], width: z.shape[3], scale: config.spatialStride) { y0, x0, h, w in
            let part = try stem.narrowed(dim: 2, start: y0, length: h).narrowed(dim: 3, start: x0, length: w)
            let out = try Self.stream(decoderStages[decoderSplit...], part, VAECausalState(slots: decoderSlots), ctx,
                                      streaming, encoding: false) { try self.clamp($0, b) }!      // [3, F, 8h, 8w]
            return try b.toHost(out)
        }
        return try b.upload(video)
    }

    /// `encode` tile by tile, for a tiling (in latent pixels, ×8 in the video) smaller than the latent.
    /// video: [3, F, H, W] -> [16, T, H/8, W/8] f32.
    ///
    /// Each tile streams its crop of the video through the encoder's levels (down to the last
    /// resampler); the blended result [384, T, H/8, W/8] then goes through the rest (the middle
    /// blocks with the attention and the head) whole, so the attention sees whole frames.
    func encodeTiles(_ video: Tensor, _ ctx: ComputeContext, streaming: VAEStreaming, tiling: VAETiling) throws -> Tensor {
        let s = config.spatialStride, b = ctx.backend
        let x = try encoderInput(video, ctx)
        let levels = try tiling.blend(height: video.shape[2] / s, width: video.shape[3] / s, scale: 1) { y0, x0, h, w in
            let part = try x.narrowed(dim: 2, start: y0 * s, length: h * s).narrowed(dim: 3, start: x0 * s, length: w * s)
            return try b.toHost(Self.stream(encoderStages[..<encoderSplit], part, VAECausalState(slots: encoderSlots), ctx,
                                            streaming, encoding: true)!)                          // [C, T, h, w]
        }
        // The rest runs per latent frame: its layers see one frame at a time at latent resolution.
        let rest = VAEStreaming(chunks: .sizes([1]), passElements: streaming.passElements)
        let h = try Self.stream(encoderStages[encoderSplit...], b.upload(levels), VAECausalState(slots: encoderSlots), ctx,
                                rest, encoding: true)!                                            // [2z, T, h, w]
        return try latent(fromEncoderOutput: h, ctx)
    }
}
