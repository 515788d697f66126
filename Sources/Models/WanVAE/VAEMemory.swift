import TensorCore

/// A peak-memory model of a streamed decode or encode, in bytes (docs/vae.md compares it with
/// measured peaks). The terms:
///   weights  parameters as held: convolution/attention matrices in the compute type, the rest f32
///   caches   two frames of the input of every k_t = 3 causal convolution (and the frames a
///            temporal downsampler waits for), in the operand type: what streaming must remember
///   working  the live tensors of one residual block over one frame group (`workingFactor` × the
///            largest group, see there) plus, at every level that is split into groups, the
///            level's input, held while its groups run
///   io       the clip's result (decode: the chunks' frames and their join, 2 × the video) or its
///            input (encode), f32
/// Caches and working memory depend on the spatial size only, not on the clip length.
public struct VAEMemoryEstimate: Sendable, Equatable, CustomStringConvertible {
    public var weights: Int
    public var caches: Int
    public var working: Int
    public var io: Int
    public var total: Int { weights + caches + working + io }

    /// Live tensors of a residual block during its second convolution, in units of the f32 group
    /// size G: the block input x and the first convolution's output (2G), the normalised operand
    /// (G·s), the operand joined with 2 cached frames (3G·s), the new cache while the old one is
    /// still referenced (2G·s) and the output (G), with s = operand bytes / 4: 9 (f32), 6 (bf16).
    public static func workingFactor(_ operand: DType) -> Int { operand.byteSize == 4 ? 9 : 6 }

    public var description: String {
        func mib(_ b: Int) -> String { "\((b + (1 << 19)) >> 20) MiB" }
        return "\(mib(total)) (weights \(mib(weights)), caches \(mib(caches)), working \(mib(working)), clip \(mib(io)))"
    }
}

extension WanVAEConfig {
    /// One entry per level: area relative to a latent pixel, the widest tensors' channels, the frames
    /// one chunk brings (decode: 1 latent frame per chunk; encode: 4 video frames), and the time
    /// factor of the level's resampler (2 up, ½ down, else 1) as numerator/denominator.
    struct Level { var area: Int; var channels: Int; var frames: Int; var timeUp: Int = 1; var timeDown: Int = 1 }

    /// Inputs of the decoder's k_t = 3 convolutions: (area relative to a latent pixel, channels).
    var decoderCausalInputs: [(area: Int, channels: Int)] {
        let dd = decoderDims
        var out: [(Int, Int)] = [(1, zDim)]
        out += Array(repeating: (1, dd[0]), count: 4)                    // middle.0, middle.2
        for level in 0..<dimMult.count {
            let area = 1 << (2 * level)
            var inDim = level == 0 ? dd[0] : dd[level] / 2
            for _ in 0...numResBlocks {
                out += [(area, inDim), (area, dd[level + 1])]
                inDim = dd[level + 1]
            }
            if level != dimMult.count - 1 && temporalUpsample[level] { out.append((area, inDim)) }
        }
        out.append((1 << (2 * (dimMult.count - 1)), dd.last!))            // head
        return out
    }

    /// The same for the encoder (area relative to a latent pixel: 64 at full resolution).
    var encoderCausalInputs: [(area: Int, channels: Int)] {
        let ed = encoderDims, top = 1 << (2 * (dimMult.count - 1))
        var out: [(Int, Int)] = [(top, imageChannels)]
        for level in 0..<dimMult.count {
            let area = top >> (2 * level)
            var inDim = ed[level]
            for _ in 0..<numResBlocks {
                out += [(area, inDim), (area, ed[level + 1])]
                inDim = ed[level + 1]
            }
            if level != dimMult.count - 1 && temporalDownsample[level] { out.append((area / 4, inDim)) }   // waiting frames
        }
        out += Array(repeating: (1, ed.last!), count: 5)                 // middle.0, middle.2, head
        return out
    }

    var decoderLevels: [Level] {
        let dd = decoderDims
        return (0..<dimMult.count).map { level in
            let up = level < dimMult.count - 1 && temporalUpsample[level]
            return Level(area: 1 << (2 * level), channels: dd[level + 1], frames: level == 0 ? 1 : 0, timeUp: up ? 2 : 1)
        }
    }

    var encoderLevels: [Level] {
        let ed = encoderDims, top = 1 << (2 * (dimMult.count - 1))
        return (0..<dimMult.count).map { level in
            let down = level < dimMult.count - 1 && temporalDownsample[level]
            return Level(area: top >> (2 * level), channels: ed[level + 1], frames: level == 0 ? temporalStride : 0, timeDown: down ? 2 : 1)
        }
    }

    /// Parameter bytes of the decoder (decoder.*, conv2.*) or the encoder (encoder.*, conv1.*).
    public func parameterBytes(decoder: Bool, dtype: DType) -> Int {
        parameterShapes.filter { decoder ? ($0.name.hasPrefix("decoder.") || $0.name.hasPrefix("conv2."))
                                         : ($0.name.hasPrefix("encoder.") || $0.name.hasPrefix("conv1.")) }
            .reduce(0) { sum, p in
                let matrix = p.name.hasSuffix(".weight") && p.shape.count >= 2
                return sum + p.shape.reduce(1, *) * (matrix ? dtype.byteSize : 4)
            }
    }
}

extension WanVAE {
    static func estimate(causal: [(area: Int, channels: Int)], levels: [WanVAEConfig.Level], latentArea a: Int,
                         weights: Int, io: Int, dtype: DType, passElements: Int?) -> VAEMemoryEstimate {
        let caches = causal.reduce(0) { $0 + 2 * $1.channels * $1.area * a } * dtype.byteSize
        // Follow one chunk down the levels: a level splits what it receives into groups of at most
        // passElements; its next level receives one group's frames times the resampler's factor.
        var largestGroup = 0, held = 0, frames = levels.first?.frames ?? 1
        for l in levels {
            let perFrame = l.channels * l.area * a
            let group = passElements.map { min(frames, max(1, $0 / max(perFrame, 1))) } ?? frames
            largestGroup = max(largestGroup, group * perFrame)
            if group < frames { held += frames * perFrame }
            frames = max(1, group * l.timeUp / l.timeDown)
        }
        return VAEMemoryEstimate(weights: weights, caches: caches,
                                 working: (VAEMemoryEstimate.workingFactor(dtype) * largestGroup + held) * 4, io: io)
    }

    /// Peak memory of decoding a latent [16, frames, height, width] (no tiling).
    public static func decodeMemory(config c: WanVAEConfig, latentFrames t: Int, height h: Int, width w: Int,
                                    dtype: DType, streaming: VAEStreaming = .reference) -> VAEMemoryEstimate {
        let a = h * w, frames = c.videoFrames(latentFrames: t)
        return estimate(causal: c.decoderCausalInputs, levels: c.decoderLevels, latentArea: a,
                        weights: c.parameterBytes(decoder: true, dtype: dtype),
                        io: 2 * c.imageChannels * frames * a * c.spatialStride * c.spatialStride * 4, dtype: dtype,
                        passElements: streaming.passElements)
    }

    /// Peak memory of encoding a video [3, frames, 8·height, 8·width] (height, width in latent pixels).
    public static func encodeMemory(config c: WanVAEConfig, videoFrames f: Int, height h: Int, width w: Int,
                                    dtype: DType, streaming: VAEStreaming = .reference) -> VAEMemoryEstimate {
        let a = h * w
        return estimate(causal: c.encoderCausalInputs, levels: c.encoderLevels, latentArea: a,
                        weights: c.parameterBytes(decoder: false, dtype: dtype),
                        io: c.imageChannels * f * a * c.spatialStride * c.spatialStride * 4, dtype: dtype,
                        passElements: streaming.passElements)
    }

    /// The largest tiling (square tiles, overlap min(8, side/3) latent pixels) whose estimated peak fits
    /// `budget` bytes, including the blended result; nil when the untiled pass fits.
    /// `decode`: tiles of a latent [16, frames, height, width]; otherwise of a video of
    /// `frames` frames and 8·height × 8·width pixels.
    public static func tiling(budget: Int, config c: WanVAEConfig, decode: Bool, frames: Int, height h: Int, width w: Int,
                              dtype: DType, streaming: VAEStreaming = .reference) throws -> VAETiling? {
        func peak(_ th: Int, _ tw: Int) -> Int {
            decode ? decodeMemory(config: c, latentFrames: frames, height: th, width: tw, dtype: dtype, streaming: streaming).total
                   : encodeMemory(config: c, videoFrames: frames, height: th, width: tw, dtype: dtype, streaming: streaming).total
        }
        let full = peak(h, w)
        if full <= budget { return nil }
        // Beside a tile's own pass live the blend accumulator (+ its weights) and the whole-grid part:
        // decode: the video and the low-resolution part's output [dim·mult.last, T, h, w];
        // encode: the blended level output [dim·mult.last, T', h, w] and, after it, the middle's pass.
        let s2 = c.spatialStride * c.spatialStride, wide = c.dim * c.dimMult.last!
        let latentT = decode ? frames : (c.latentFrames(videoFrames: frames) ?? 1)
        let blended = decode ? (c.imageChannels * c.videoFrames(latentFrames: frames) + 1) * h * w * s2 * 4 + wide * latentT * h * w * 4
                             : (wide * latentT + 1) * h * w * 4
        var smallest = Int.max
        for side in stride(from: max(h, w), through: 4, by: -1) {
            let th = min(side, h), tw = min(side, w)
            let overlap = max(1, min(8, side / 3))
            guard overlap < min(th, tw) else { continue }
            let need = peak(th, tw) + blended
            smallest = min(smallest, need)
            if need <= budget { return try VAETiling(height: th, width: tw, overlap: overlap) }
        }
        throw TensorError.invalidArgument("a memory budget of \(budget >> 20) MiB is too small for the VAE: the smallest tiling needs about \((min(smallest, full) + (1 << 20) - 1) >> 20) MiB")
    }
}
