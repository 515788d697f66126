#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// One layer of the encoder or decoder as a streaming stage: it takes the next frames of the clip
/// and returns the next output frames, remembering what it needs in `state`.
protocol CausalStage {
    /// x: [C, T, H, W] (T ≥ 1) -> [C', T', H', W']; T' may be 0 while a temporal downsampler waits
    /// for the rest of its window.
    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor
}

extension CausalConv3d: CausalStage {}

/// norm → SiLU → conv3 → norm → SiLU → conv3, plus the input (through a 1×1×1 conv when the
/// width changes). Checkpoint keys: residual.{0,3}.gamma, residual.{2,6}.*, shortcut.*.
struct ResidualBlock: CausalStage {
    let norm1: VAENorm
    let conv1: CausalConv3d
    let norm2: VAENorm
    let conv2: CausalConv3d
    let shortcut: CausalConv3d?

    init(_ store: WeightStore, _ key: String, in inDim: Int, out outDim: Int, slots: inout SlotAllocator) throws {
        norm1 = try VAENorm(store, "\(key).residual.0", channels: inDim)
        conv1 = try CausalConv3d(store, "\(key).residual.2", in: inDim, out: outDim, kernel: [3, 3, 3], padding: 1, slots: &slots)
        norm2 = try VAENorm(store, "\(key).residual.3", channels: outDim)
        conv2 = try CausalConv3d(store, "\(key).residual.6", in: outDim, out: outDim, kernel: [3, 3, 3], padding: 1, slots: &slots)
        shortcut = inDim == outDim ? nil
            : try CausalConv3d(store, "\(key).shortcut", in: inDim, out: outDim, kernel: [1, 1, 1], padding: 0, slots: &slots)
    }

    // x: [Cin, T, H, W] -> [Cout, T, H, W]
    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        let y = try conv1(norm1.silu(x, ctx), state, ctx)      // f32
        let h = try shortcut.map { try $0(x, state, ctx) } ?? x
        // conv2's result plus h, in f32 as `add` would (the backend may fuse the sum into the convolution).
        return try conv2(norm2.silu(y, ctx), state, ctx, adding: h.dtype == .f32 ? h : ctx.backend.contiguous(h, dtype: .f32))
    }
}

/// Single-head self-attention over the pixels of each frame (c = width, scale 1/√c), with 1×1
/// convolutions for q/k/v and the output, plus the input. Keys: norm.gamma, to_qkv.*, proj.*.
struct AttentionBlock: CausalStage {
    let norm: VAENorm
    let qkvWeight: Tensor       // [3c, c]: rows 0..<c give q, c..<2c k, 2c..<3c v
    let qkvBias: Tensor         // [3c]
    let projWeight: Tensor      // [c, c]
    let projBias: Tensor        // [c]
    let channels: Int

    init(_ store: WeightStore, _ key: String, channels c: Int) throws {
        norm = try VAENorm(store, "\(key).norm", channels: c, image: true)
        qkvWeight = try store.matrix("\(key).to_qkv.weight", shape: [3 * c, c, 1, 1]).squeezed(3).squeezed(2)
        qkvBias = try store.take("\(key).to_qkv.bias", shape: [3 * c])
        projWeight = try store.matrix("\(key).proj.weight", shape: [c, c, 1, 1]).squeezed(3).squeezed(2)
        projBias = try store.take("\(key).proj.bias", shape: [c])
        channels = c
    }

    // x: [C, T, H, W] f32 -> [C, T, H, W] f32 (q, k, v and the attention output in the operand type)
    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend, c = channels
        let (t, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let normed = try CausalConv3d.operand(norm(x, ctx), ctx)
        let tokens = try normed.reshaped([c, t * h * w]).transposed(0, 1)                   // [T·HW, C] view
        let qkv = try b.matmul(tokens, qkvWeight, transposeB: true, bias: qkvBias, outputType: ctx.dtype)
            .reshaped([t, 1, h * w, 3 * c])                                                 // [T, 1, HW, 3C]
        let q = try qkv.narrowed(dim: 3, start: 0, length: c)
        let k = try qkv.narrowed(dim: 3, start: c, length: c)
        let v = try qkv.narrowed(dim: 3, start: 2 * c, length: c)
        let o = try b.attention(q: q, k: k, v: v, scale: 1 / Float(c).squareRoot(), bias: nil)   // [T, 1, HW, C]
        let y = try b.matmul(o.reshaped([t * h * w, c]), projWeight, transposeB: true, bias: projBias, outputType: .f32)
        return try b.add(x, y.reshaped([t, h, w, c]).permuted([3, 0, 1, 2]))              // [C, T, H, W]
    }
}

/// Spatial ×2 resampling, optionally with temporal ×2. Keys: resample.1.* (the 3×3 conv),
/// time_conv.* (temporal modes).
///   upsample: [time_conv to 2C channels, interleaved to 2T frames; frame 0 of the clip passes
///             through alone] → nearest ×2 → conv 3×3 (pad 1) to C/2 channels.
///   downsample: zero pad (0, 1, 0, 1) → conv 3×3 stride 2 → [frame 0 passes through; then
///             conv (3, 1, 1) stride 2 without padding over frames 0, 1, 2 | 2, 3, 4 | …].
struct Resample: CausalStage {
    enum Mode { case upsample2d, upsample3d, downsample2d, downsample3d }
    let mode: Mode
    let spatial: CausalConv3d   // k = (1, 3, 3); its padding is applied here for downsampling
    let timeConv: CausalConv3d?
    let slot: Int?              // temporal modes: started flag (+ pending frames when downsampling)

    init(_ store: WeightStore, _ key: String, channels c: Int, mode: Mode, slots: inout SlotAllocator) throws {
        self.mode = mode
        switch mode {
        case .upsample2d, .upsample3d:
            spatial = try CausalConv3d(store, "\(key).resample.1", in: c, out: c / 2, kernel: [3, 3], padding: 1, slots: &slots)
        case .downsample2d, .downsample3d:
            spatial = try CausalConv3d(store, "\(key).resample.1", in: c, out: c, kernel: [3, 3], padding: 0, slots: &slots)
        }
        switch mode {
        case .upsample3d:
            timeConv = try CausalConv3d(store, "\(key).time_conv", in: c, out: 2 * c, kernel: [3, 1, 1], padding: 0, slots: &slots)
            slot = slots.next()
        case .downsample3d:
            // Runs with stride 2 on explicitly gathered frames, never through its own cache.
            timeConv = try CausalConv3d(store, "\(key).time_conv", in: c, out: c, kernel: [3, 1, 1], padding: 0, slots: &slots)
            slot = slots.next()
        default:
            timeConv = nil
            slot = nil
        }
    }

    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        switch mode {
        case .upsample2d: return try upsampleSpatial(x, ctx)
        case .upsample3d: return try upsampleSpatial(upsampleTime(x, state, ctx), ctx)
        case .downsample2d: return try downsampleSpatial(x, ctx)
        case .downsample3d: return try downsampleTime(downsampleSpatial(x, ctx), state, ctx)
        }
    }

    // x: [C, T, H, W] -> [C/2, T, 2H, 2W]
    func upsampleSpatial(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        // Rounded to the operand type before the 4× larger copy (the same values either way).
        let up = try ctx.backend.upsampleNearest(CausalConv3d.operand(x, ctx), scaleH: 2, scaleW: 2)   // [C, T, 2H, 2W]
        return try spatial.conv(up, front: 0, ctx)                                     // k_t = 1: no history
    }

    // x: [C, T, H, W] -> [C, T', H, W], T' = 2T (2T − 1 in the call holding frame 0 of the clip)
    func upsampleTime(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend, slot = slot!, c = x.shape[0]
        var parts: [Tensor] = []
        var rest = x
        if !state.started[slot] {
            state.started[slot] = true
            parts.append(try x.frames(0, 1))          // frame 0 is not upsampled in time
            rest = try x.frames(1, x.frameCount - 1)
        }
        if rest.frameCount > 0 {
            let t = rest.frameCount, (h, w) = (x.shape[2], x.shape[3])
            let y = try timeConv!(rest, state, ctx)                                    // [2C, T, H, W]
            // Channel half i becomes frame 2t + i: [2, C, T, H, W] -> [C, T, 2, H, W].
            let interleaved = try b.contiguous(y.reshaped([2, c, t, h, w]).permuted([1, 2, 0, 3, 4]))
            parts.append(try interleaved.reshaped([c, 2 * t, h, w]))
        }
        return parts.count == 1 ? parts[0] : try b.concat(parts, dim: 1)
    }

    // x: [C, T, H, W] -> [C, T, ⌈H/2⌉, ⌈W/2⌉] (H, W even in practice)
    func downsampleSpatial(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        try spatial.run(x, stride: [1, 2, 2], padding: [.none, Padding(0, 1), Padding(0, 1)], ctx)
    }

    // x: [C, T, H, W] -> [C, T', H, W]: frame 0 of the clip, then one frame per complete window
    // (2j, 2j+1, 2j+2) of the clip's frames. Frames not consumed yet wait in the state.
    func downsampleTime(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        let b = ctx.backend, slot = slot!
        var parts: [Tensor] = []
        var pending = try CausalConv3d.operand(x, ctx)       // waiting frames are convolution inputs
        if !state.started[slot] {
            state.started[slot] = true
            parts.append(try x.frames(0, 1))
        } else if !state.frames[slot].isEmpty {
            pending = try b.concat(state.frames[slot] + [pending], dim: 1)
        }
        let windows = pending.frameCount >= 3 ? (pending.frameCount - 3) / 2 + 1 : 0
        if windows > 0 {
            parts.append(try timeConv!.run(pending, stride: [2, 1, 1], padding: [.none, .none, .none], ctx))   // [C, windows, H, W]
        }
        // The next window starts at frame 2·windows of `pending`.
        let left = pending.frameCount - 2 * windows
        state.frames[slot] = left > 0 ? [try b.contiguous(pending.frames(2 * windows, left))] : []
        if parts.isEmpty { return try b.empty([x.shape[0], 0, x.shape[2], x.shape[3]], dtype: x.dtype) }
        return parts.count == 1 ? parts[0] : try b.concat(parts, dim: 1)
    }
}

/// RMS_norm → SiLU → causal conv 3×3×3 (keys head.0.gamma, head.2.*).
struct HeadBlock: CausalStage {
    let norm: VAENorm
    let conv: CausalConv3d

    init(_ store: WeightStore, _ key: String, in inDim: Int, out outDim: Int, slots: inout SlotAllocator) throws {
        norm = try VAENorm(store, "\(key).0", channels: inDim)
        conv = try CausalConv3d(store, "\(key).2", in: inDim, out: outDim, kernel: [3, 3, 3], padding: 1, slots: &slots)
    }

    // x: [Cin, T, H, W] -> [Cout, T, H, W]
    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        try conv(norm.silu(x, ctx), state, ctx)
    }
}
