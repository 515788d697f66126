import Checkpoints
import TensorCore

/// How the frames of a clip are fed through the causal network. Every schedule gives the same
/// result (the layers remember what they need of earlier frames); they differ in memory and speed.
public struct VAEStreaming: Sendable, Equatable {
    public enum Chunks: Sendable, Equatable {
        /// As the reference: decode one latent frame per call; encode frame 0, then 4 frames per call.
        case reference
        /// All frames in one call (one pass with the causal padding).
        case wholeClip
        /// Input frames per call, repeated until the clip is consumed (e.g. [1, 4]: 1, 4, 4, …).
        case sizes([Int])
    }
    public var chunks: Chunks
    /// Inside a call, frames go through each layer in groups of at most max(1, passElements / (C·H·W))
    /// (C, H, W of that layer's input), depth first; nil = no limit. Bounds the working set by about one
    /// frame at full resolution instead of one chunk (4 frames) without changing the result.
    public var passElements: Int?

    public init(chunks: Chunks = .reference, passElements: Int? = 16 << 20) {
        self.chunks = chunks
        self.passElements = passElements
    }

    public static let reference = VAEStreaming()
    public static let wholeClip = VAEStreaming(chunks: .wholeClip, passElements: nil)
    /// The reference's chunks, each through every layer at once (4 frames at full resolution in a
    /// decode): fewer, larger convolutions than `.reference` for about 1.6× its memory at 480p.
    public static let wholeChunks = VAEStreaming(chunks: .reference, passElements: nil)

    /// Split of `frames` input frames into calls.
    func split(_ frames: Int, encoding: Bool) -> [Int] {
        let pattern: [Int]
        switch chunks {
        case .reference: pattern = encoding ? [1, 4] : [1]
        case .wholeClip: return [frames]
        case .sizes(let s): pattern = s.isEmpty ? [frames] : s
        }
        var out: [Int] = [], left = frames, i = 0
        while left > 0 {
            let n = min(max(1, pattern[min(i, pattern.count - 1)]), left)
            out.append(n)
            left -= n
            i += 1
        }
        return out
    }
}

/// The Wan2.1 video VAE (docs/vae.md): video [3, F, H, W] in [-1, 1] ↔ normalized latent
/// [16, 1 + (F−1)/4, H/8, W/8]. Loads `Wan2.1_VAE.pth` (the state dict of the reference's
/// `WanVAE_`: encoder.*, conv1.*, conv2.*, decoder.*) strictly.
public final class WanVAE {
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let encoder = Parts(rawValue: 1)
        public static let decoder = Parts(rawValue: 2)
        public static let all: Parts = [.encoder, .decoder]
    }

    public let config: WanVAEConfig
    public let parts: Parts
    let encoderStages: [any CausalStage]
    let encoderSlots: Int
    let quantConv: CausalConv3d?        // conv1 [2z, 2z, 1, 1, 1]: encoder output -> (μ, log σ²)
    let postQuantConv: CausalConv3d?    // conv2 [z, z, 1, 1, 1]: latent -> decoder input
    let decoderStages: [any CausalStage]
    let decoderSlots: Int
    /// First decoder stage that tiling runs per tile (the first resampler).
    let decoderSplit: Int
    /// First encoder stage that runs on the whole latent grid when tiling (after the last resampler).
    let encoderSplit: Int
    /// Things said once while loading (e.g. the unused half of the checkpoint).
    public let loadNotes: [String]

    public init(_ store: WeightStore, config c: WanVAEConfig, parts: Parts = .all) throws {
        guard c.dimMult.count == 4, c.temporalDownsample.count == 3, c.zDim == c.mean.count, c.zDim == c.std.count else {
            throw ModelLoadError.unsupported("WanVAE supports 4 levels and z = \(WanVAEConfig.latentMean.count) (the released layout); got \(c)")
        }
        config = c
        self.parts = parts
        var slots = SlotAllocator()
        if parts.contains(.encoder) {
            encoderStages = try Self.buildEncoder(store, c, &slots)
            quantConv = try CausalConv3d(store, "conv1", in: 2 * c.zDim, out: 2 * c.zDim, kernel: [1, 1, 1], padding: 0, slots: &slots)
        } else {
            encoderStages = []
            quantConv = nil
            store.ignore(where: { $0.hasPrefix("encoder.") || $0.hasPrefix("conv1.") }, note: "the encoder (encoder.*, conv1.*) is not loaded")
        }
        encoderSlots = slots.count
        slots = SlotAllocator()
        if parts.contains(.decoder) {
            postQuantConv = try CausalConv3d(store, "conv2", in: c.zDim, out: c.zDim, kernel: [1, 1, 1], padding: 0, slots: &slots)
            decoderStages = try Self.buildDecoder(store, c, &slots)
        } else {
            decoderStages = []
            postQuantConv = nil
            store.ignore(where: { $0.hasPrefix("decoder.") || $0.hasPrefix("conv2.") }, note: "the decoder (decoder.*, conv2.*) is not loaded")
        }
        decoderSlots = slots.count
        // Tiling cuts the decoder before its first resampler and the encoder after its last, so the
        // middle attention always sees whole frames.
        decoderSplit = decoderStages.firstIndex { $0 is Resample } ?? 0
        encoderSplit = (encoderStages.lastIndex { $0 is Resample } ?? -1) + 1
        try store.finish()
        loadNotes = store.notes
    }

    static func buildEncoder(_ store: WeightStore, _ c: WanVAEConfig, _ slots: inout SlotAllocator) throws -> [any CausalStage] {
        let dims = c.encoderDims
        var stages: [any CausalStage] = [
            try CausalConv3d(store, "encoder.conv1", in: c.imageChannels, out: dims[0], kernel: [3, 3, 3], padding: 1, slots: &slots),
        ]
        var index = 0
        for level in 0..<c.dimMult.count {
            var inDim = dims[level]
            for _ in 0..<c.numResBlocks {
                stages.append(try ResidualBlock(store, "encoder.downsamples.\(index)", in: inDim, out: dims[level + 1], slots: &slots))
                inDim = dims[level + 1]
                index += 1
            }
            if level != c.dimMult.count - 1 {
                stages.append(try Resample(store, "encoder.downsamples.\(index)", channels: inDim,
                                           mode: c.temporalDownsample[level] ? .downsample3d : .downsample2d, slots: &slots))
                index += 1
            }
        }
        let top = dims.last!
        stages.append(try ResidualBlock(store, "encoder.middle.0", in: top, out: top, slots: &slots))
        stages.append(try AttentionBlock(store, "encoder.middle.1", channels: top))
        stages.append(try ResidualBlock(store, "encoder.middle.2", in: top, out: top, slots: &slots))
        stages.append(try HeadBlock(store, "encoder.head", in: top, out: 2 * c.zDim, slots: &slots))
        return stages
    }

    static func buildDecoder(_ store: WeightStore, _ c: WanVAEConfig, _ slots: inout SlotAllocator) throws -> [any CausalStage] {
        let dims = c.decoderDims
        var stages: [any CausalStage] = [
            try CausalConv3d(store, "decoder.conv1", in: c.zDim, out: dims[0], kernel: [3, 3, 3], padding: 1, slots: &slots),
            try ResidualBlock(store, "decoder.middle.0", in: dims[0], out: dims[0], slots: &slots),
            try AttentionBlock(store, "decoder.middle.1", channels: dims[0]),
            try ResidualBlock(store, "decoder.middle.2", in: dims[0], out: dims[0], slots: &slots),
        ]
        var index = 0
        for level in 0..<c.dimMult.count {
            var inDim = level == 0 ? dims[0] : dims[level] / 2     // the previous resample halved the width
            for _ in 0...c.numResBlocks {
                stages.append(try ResidualBlock(store, "decoder.upsamples.\(index)", in: inDim, out: dims[level + 1], slots: &slots))
                inDim = dims[level + 1]
                index += 1
            }
            if level != c.dimMult.count - 1 {
                stages.append(try Resample(store, "decoder.upsamples.\(index)", channels: inDim,
                                           mode: c.temporalUpsample[level] ? .upsample3d : .upsample2d, slots: &slots))
                index += 1
            }
        }
        stages.append(try HeadBlock(store, "decoder.head", in: dims.last!, out: c.imageChannels, slots: &slots))
        return stages
    }

    // MARK: Decoding

    /// Latent to video. z: [16, T, h, w] normalized ((μ − mean)/std) -> [3, 1 + 4(T−1), 8h, 8w] f32 in [-1, 1].
    /// `streaming` groups frames through the layers (never changes the result); `tiling` decodes tile
    /// by tile (`decodeTiles`; nil, or a tile covering the latent: whole frames).
    public func decode(_ z: Tensor, _ ctx: ComputeContext, streaming: VAEStreaming = .reference, tiling: VAETiling? = nil) throws -> Tensor {
        if let tiling, z.rank == 4, tiling.height < z.shape[2] || tiling.width < z.shape[3] {
            return try decodeTiles(z, ctx, streaming: streaming, tiling: tiling)
        }
        let x = try decoderInput(z, ctx)
        let state = VAECausalState(slots: decoderSlots)
        // Each chunk's frames are clamped as they come, so the clip is copied once (by the join).
        return try Self.stream(decoderStages[...], x, state, ctx, streaming, encoding: false) { try self.clamp($0, ctx.backend) }!
    }

    /// Checks z and undoes the latent normalization: conv2(z / (1/std) + mean) [16, T, h, w] f32
    /// (in f32 as the reference computes it).
    func decoderInput(_ z: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        guard parts.contains(.decoder), let postQuantConv else { throw ModelLoadError.unsupported("this WanVAE was loaded without its decoder") }
        let c = config, b = ctx.backend
        guard z.rank == 4, z.shape[0] == c.zDim, z.shape[1] >= 1, z.shape[2] >= 1, z.shape[3] >= 1 else {
            throw TensorError.shapeMismatch("VAE latent z \(z.shape): expected [\(c.zDim), T ≥ 1, h, w]")
        }
        let (mean, invStd) = try latentStatistics(b)
        let x = try b.add(b.binary(.div, b.contiguous(z, dtype: .f32), invStd), mean)   // [16, T, h, w]
        return try postQuantConv(x, VAECausalState(slots: 0), ctx)                     // 1×1×1: no history
    }

    /// Clamps the decoder output to [-1, 1].
    func clamp(_ video: Tensor, _ b: any Backend) throws -> Tensor {
        let lo = try b.upload(Tensor.host([-1], shape: [1]))
        let hi = try b.upload(Tensor.host([1], shape: [1]))
        return try b.binary(.minimum, b.binary(.maximum, video, lo), hi)
    }

    // MARK: Encoding

    /// Video to latent. video: [3, F, H, W] in [-1, 1], F = 4n + 1, H and W multiples of 8
    /// -> normalized mean (μ − mean)/std [16, n + 1, H/8, W/8] f32 (no sampling, as the reference's encode).
    /// `streaming` as for `decode`; `tiling` (in latent pixels) encodes tile by tile (`encodeTiles`;
    /// nil, or a tile covering the latent: whole frames).
    public func encode(_ video: Tensor, _ ctx: ComputeContext, streaming: VAEStreaming = .reference, tiling: VAETiling? = nil) throws -> Tensor {
        let s = config.spatialStride
        if let tiling, video.rank == 4, video.shape[2] % s == 0, video.shape[3] % s == 0,
           tiling.height < video.shape[2] / s || tiling.width < video.shape[3] / s {
            return try encodeTiles(video, ctx, streaming: streaming, tiling: tiling)
        }
        let x = try encoderInput(video, ctx)
        let state = VAECausalState(slots: encoderSlots)
        let h = try Self.stream(encoderStages[...], x, state, ctx, streaming, encoding: true)!   // [2z, n + 1, H/8, W/8]
        return try latent(fromEncoderOutput: h, ctx)
    }

    /// Checks the video's shape; -> the video as f32.
    func encoderInput(_ video: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        guard parts.contains(.encoder) else { throw ModelLoadError.unsupported("this WanVAE was loaded without its encoder") }
        let c = config, s = c.spatialStride
        guard video.rank == 4, video.shape[0] == c.imageChannels else {
            throw TensorError.shapeMismatch("VAE video \(video.shape): expected [\(c.imageChannels), F, H, W]")
        }
        guard c.latentFrames(videoFrames: video.shape[1]) != nil else {
            throw TensorError.shapeMismatch("VAE video has \(video.shape[1]) frames; the encoder needs 4n + 1 (1, 5, 9, …, 81)")
        }
        guard video.shape[2] % s == 0, video.shape[3] % s == 0, video.shape[2] > 0, video.shape[3] > 0 else {
            throw TensorError.shapeMismatch("VAE video is \(video.shape[2])×\(video.shape[3]); height and width must be positive multiples of \(s)")
        }
        return try ctx.backend.contiguous(video, dtype: .f32)
    }

    /// The encoder head's output [2z, T, h, w] -> normalized μ [z, T, h, w] f32.
    func latent(fromEncoderOutput h: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend
        let mu = try quantConv!(h, VAECausalState(slots: 0), ctx).narrowed(dim: 0, start: 0, length: config.zDim)   // first half: μ
        let (mean, invStd) = try latentStatistics(b)
        return try b.mul(b.sub(mu, mean), invStd)
    }

    /// mean and 1/std as [16, 1, 1, 1] f32 (1/std rounded in f32, as the reference's `scale[1]`).
    func latentStatistics(_ b: any Backend) throws -> (mean: Tensor, invStd: Tensor) {
        let mean = config.mean.map { Float($0) }
        let invStd = config.std.map { 1 / Float($0) }
        return (try b.upload(Tensor.host(mean, shape: [mean.count, 1, 1, 1])),
                try b.upload(Tensor.host(invStd, shape: [invStd.count, 1, 1, 1])))
    }

    // MARK: Streaming

    /// Feeds x [C, T, H, W] through `stages` in the calls `streaming` asks for (encoder chunking
    /// when `encoding`) and joins the outputs along time; nil when no frame came out.
    /// `finish` is applied to each call's output before it is kept.
    static func stream(_ stages: ArraySlice<any CausalStage>, _ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext,
                       _ streaming: VAEStreaming, encoding: Bool, finish: (Tensor) throws -> Tensor = { $0 }) throws -> Tensor? {
        var outs: [Tensor] = []
        var t0 = 0
        for n in streaming.split(x.frameCount, encoding: encoding) {
            if let y = try run(stages, x.frames(t0, n), state, ctx, passElements: streaming.passElements) { outs.append(try finish(y)) }
            t0 += n
        }
        if outs.isEmpty { return nil }
        return outs.count == 1 ? outs[0] : try ctx.backend.concat(outs, dim: 1)
    }

    /// Runs x [C, T, H, W] through `stages`, splitting it into frame groups of at most
    /// `passElements` elements (at least one frame) before any stage where it is larger; each
    /// group goes through all remaining stages before the next starts. nil when no frame came out.
    ///
    /// A loop, not a recursion per stage: each stage's output replaces its input in `x`, so a
    /// group's intermediate tensors are freed as it descends (a recursive call would keep every
    /// stage's input alive in the callers' frames until the last stage returns).
    static func run(_ stages: ArraySlice<any CausalStage>, _ input: Tensor, _ state: VAECausalState, _ ctx: ComputeContext,
                    passElements: Int?) throws -> Tensor? {
        var x = input
        var i = stages.startIndex
        while i < stages.endIndex {
            let perFrame = x.shape[0] * x.shape[2] * x.shape[3]
            if let limit = passElements, x.frameCount > 1, x.frameCount * perFrame > limit {
                let group = max(1, limit / max(perFrame, 1))
                var outs: [Tensor] = []
                var t0 = 0
                while t0 < x.frameCount {
                    let n = min(group, x.frameCount - t0)
                    if let y = try run(stages[i...], x.frames(t0, n), state, ctx, passElements: passElements) { outs.append(y) }
                    t0 += n
                }
                if outs.isEmpty { return nil }
                return outs.count == 1 ? outs[0] : try ctx.backend.concat(outs, dim: 1)
            }
            x = try stages[i](x, state, ctx)
            if x.frameCount == 0 { return nil }
            i += 1
        }
        return x
    }
}
