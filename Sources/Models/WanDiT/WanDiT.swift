#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// The Wan diffusion transformer (docs/dit.md). One class serves Wan2.1 T2V 1.3B/14B and the
/// Wan2.2 I2V A14B experts; the checkpoint layout (official 5-D patch weight or
/// TurboDiffusion's 2-D one) is handled at load time.
public final class WanDiT {
    public let config: WanDiTConfig
    let patchEmbedding: Linear     // patch_embedding: [dim, in·4] (5-D [dim, in, 1, 2, 2] viewed as 2-D)
    let textEmbedding1: Linear     // text_embedding.0 [dim, textDim]
    let textEmbedding2: Linear     // text_embedding.2 [dim, dim]
    let timeEmbedding1: Linear     // time_embedding.0 [dim, freqDim]
    let timeEmbedding2: Linear     // time_embedding.2 [dim, dim]
    let timeProjection: Linear     // time_projection.1 [6·dim, dim]
    let blocks: [WanBlock]
    let headModulation: Tensor     // head.modulation [1, 2, dim]
    let head: Linear               // head.head [out·4, dim]
    /// Things said once while loading (e.g. unused SLA projections).
    public let loadNotes: [String]
    /// The rotary tables of the last grid this model ran (every step of a generation has the same one).
    let ropeTables = RopeTableCache()

    public let attention: SelfAttentionKind
    /// Streamed: the blocks' weights stay in host memory and each block is uploaded just before it
    /// runs (the next one's upload overlapping it where the backend can), the rest stays resident.
    public let blockResidency: WeightResidency

    public init(_ store: WeightStore, config c: WanDiTConfig, attention: SelfAttentionKind = .original,
                blockResidency: WeightResidency = .resident) throws {
        config = c
        self.attention = attention
        self.blockResidency = blockResidency
        let patch = try store.matrix("patch_embedding.weight", shape: [c.dim, c.inChannels * 4],
                                     alternatives: [[c.dim, c.inChannels, 1, 2, 2]])
        patchEmbedding = Linear(weight: try patch.reshaped([c.dim, c.inChannels * 4]),
                                bias: try store.take("patch_embedding.bias", shape: [c.dim]))
        textEmbedding1 = try Linear(store, "text_embedding.0", in: c.textDim, out: c.dim)
        textEmbedding2 = try Linear(store, "text_embedding.2", in: c.dim, out: c.dim)
        timeEmbedding1 = try Linear(store, "time_embedding.0", in: c.frequencyDim, out: c.dim)
        timeEmbedding2 = try Linear(store, "time_embedding.2", in: c.dim, out: c.dim)
        timeProjection = try Linear(store, "time_projection.1", in: c.dim, out: 6 * c.dim)
        blocks = try store.placing(blockResidency) {
            try (0..<c.numLayers).map { try WanBlock(store, index: $0, config: c, attention: attention) }
        }
        headModulation = try store.take("head.modulation", shape: [1, 2, c.dim])
        head = try Linear(store, "head.head", in: c.dim, out: c.headOutFeatures)
        store.ignore(where: { $0.contains(".attn_op.local_attn.proj_l.") },
                     note: "the checkpoint's SLA projections (proj_l) are unused with dense attention")
        try store.finish()
        loadNotes = store.notes
    }

    /// Sinusoidal embedding of a timestep: [cos(t·ω_i), sin(t·ω_i)], ω_i = 10000^(−i/half), in float64.
    static func timestepEmbedding(_ t: Double, dim: Int) -> [Float] {
        let half = dim / 2
        var out = [Float](repeating: 0, count: dim)
        for i in 0..<half {
            let arg = t * pow(10000.0, -Double(i) / Double(half))
            out[i] = Float(cos(arg))
            out[half + i] = Float(sin(arg))
        }
        return out
    }

    /// Predicts the flow velocity.
    /// x: [inChannels, F, H, W] (H, W even), timestep: the network's t (e.g. 988),
    /// context: [Lc ≤ textLength, textDim] -> [outChannels, F, H, W] f32.
    /// With `parallel`, every rank of its communicator calls this with the same inputs; each computes
    /// its shard of the tokens and every rank returns the whole result (docs/multi-gpu.md).
    public func callAsFunction(x: Tensor, timestep: Double, context: Tensor, _ ctx: ComputeContext,
                               parallel: SequenceParallelism? = nil) throws -> Tensor {
        let b = ctx.backend, c = config
        guard x.rank == 4, x.shape[0] == c.inChannels, x.shape[2] % 2 == 0, x.shape[3] % 2 == 0 else {
            throw TensorError.shapeMismatch("DiT input x \(x.shape): expected [\(c.inChannels), F, H, W] with even H and W")
        }
        guard context.rank == 2, context.shape[1] == c.textDim, context.shape[0] <= c.textLength else {
            throw TensorError.shapeMismatch("DiT context \(context.shape): expected [L ≤ \(c.textLength), \(c.textDim)]")
        }
        let (f, h2, w2) = (x.shape[1], x.shape[2] / 2, x.shape[3] / 2)
        let tokens = f * h2 * w2
        let shard = try parallel.map { try SequenceShard($0, tokens: tokens, heads: c.numHeads) }
        let mine = shard?.range ?? 0 ..< tokens

        // Patch embedding: [C, F, H, W] -> tokens in (f, h, w) order with features (c, kh, kw).
        let x32 = try b.contiguous(x, dtype: .f32)
        let patches = try b.contiguous(x32.reshaped([c.inChannels, f, h2, 2, w2, 2]).permuted([1, 2, 4, 0, 3, 5]))
            .reshaped([tokens, c.inChannels * 4]).narrowed(dim: 0, start: mine.lowerBound, length: mine.count)
        let f32 = ComputeContext(backend: b, dtype: .f32)
        var hidden = try b.contiguous(patchEmbedding(patches, ctx), dtype: .f32)   // [L, dim] (this rank's rows)

        // Time: e [1, dim], e0 [6, dim], both fp32.
        let sinusoid = try b.upload(Tensor.host(Self.timestepEmbedding(timestep, dim: c.frequencyDim), shape: [1, c.frequencyDim]))
        let e = try timeEmbedding2(b.unary(.silu, timeEmbedding1(sinusoid, f32)), f32)
        let e0 = try timeProjection(b.unary(.silu, e), f32).reshaped([6, c.dim])

        // Text: zero-pad to textLength rows (padded rows are attended), then the MLP.
        let ctxPadded = try b.pad(b.contiguous(context, dtype: .f32), [Padding(0, c.textLength - context.shape[0]), .none], value: 0)
        let text = try textEmbedding2(textEmbedding1.geluTanh(ctxPadded, ctx), ctx)   // [textLen, dim]

        let rope = try ropeTables.deviceTables(frames: f, height: h2, width: w2, headDim: c.headDim, rows: mine, on: b)
        switch blockResidency {
        case .resident:
            for block in blocks { hidden = try block(hidden, e0: e0, context: text, rope: rope, shard: shard, ctx) }
        case .streamed:
            // Block i + 1's memory is reserved before block i's work is enqueued (so it can only be
            // memory of block i − 1 or earlier), its copy started after (so it overlaps block i).
            let streamer = WeightStreamer(backend: b)
            defer { streamer.finish() }
            var next = try streamer.reserve(blocks[0])
            try streamer.start()
            for i in blocks.indices {
                let block = try streamer.ready(next)
                if i + 1 < blocks.count { next = try streamer.reserve(blocks[i + 1]) }
                hidden = try block(hidden, e0: e0, context: text, rope: rope, shard: shard, ctx)
                try streamer.start()
            }
        }

        // Head: LN(x)·(1 + m1) + m0 with m = head.modulation + e, then Linear to out·4.
        let m = try b.add(e.reshaped([1, 1, c.dim]), headModulation)        // [1, 2, dim]
        let normed = try b.layerNorm(hidden, weight: nil, bias: nil, eps: c.eps)
        let modulated = try b.add(b.mul(normed, b.affine(m.selected(dim: 1, index: 1), scale: 1, shift: 1)), m.selected(dim: 1, index: 0))
        var out = try b.contiguous(head(modulated, f32), dtype: .f32)       // [L, out·4]
        if let shard { out = try shard.allRows(out, b) }

        // Unpatchify: feature ((kh·2 + kw)·out + c) -> [out, F, H, W].
        let video = try out.reshaped([f, h2, w2, 2, 2, c.outChannels]).permuted([5, 0, 1, 3, 2, 4])
        return try b.contiguous(video).reshaped([c.outChannels, f, h2 * 2, w2 * 2])
    }
}
