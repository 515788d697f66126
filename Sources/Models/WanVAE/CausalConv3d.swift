import TensorCore

/// What the causal layers of one encode or decode pass remember of the frames they have already
/// seen (the reference's `feat_cache`). Each layer owns one slot, assigned at load time. A fresh
/// state is the start of a clip; feeding a clip in any split of its frames through the same state
/// gives the result of one pass over the whole clip.
public final class VAECausalState {
    /// Per slot: the last input frames a causal conv needs (≤ k_t − 1 = 2), or the frames a
    /// temporal downsampler has not consumed yet, in order, as one or more tensors (empty: none).
    var frames: [[Tensor]]
    /// Per slot: whether a temporal resampler has passed frame 0 through already.
    var started: [Bool]

    init(slots: Int) {
        frames = Array(repeating: [], count: slots)
        started = Array(repeating: false, count: slots)
    }

    /// Bytes held by the caches now.
    public var cachedBytes: Int { frames.joined().reduce(0) { $0 + $1.byteCount } }
}

/// Hands out state slots while a model is being built.
struct SlotAllocator {
    private(set) var count = 0
    mutating func next() -> Int {
        count += 1
        return count - 1
    }
}

/// The video tensors of the VAE have no batch dimension: [C, T, H, W].
extension Tensor {
    var frameCount: Int { shape[1] }

    /// Frames `start ..< start+length` ([C, T, H, W] → [C, length, H, W]), a view.
    func frames(_ start: Int, _ length: Int) throws -> Tensor { try narrowed(dim: 1, start: start, length: length) }
}

/// Conv3d that pads time only in front (2 frames for k_t = 3), so output frame t sees input
/// frames t−2…t. Across calls the padding is replaced by the cached last frames of the previous
/// input, which makes chunked processing equal to one pass. Space is zero-padded symmetrically.
struct CausalConv3d {
    let weight: Tensor          // [O, C, kt, kh, kw] (the matrix type)
    let bias: Tensor            // [O] f32
    let kernel: [Int]           // [kt, kh, kw]
    let spatialPadding: Int
    let slot: Int?              // nil when k_t = 1 (nothing to remember)

    /// `kernel` is the checkpoint's kernel; 2-D convolutions ([O, C, kh, kw]) run as k_t = 1.
    init(_ store: WeightStore, _ key: String, in inChannels: Int, out outChannels: Int, kernel: [Int], padding: Int,
         slots: inout SlotAllocator) throws {
        let w = try store.matrix("\(key).weight", shape: [outChannels, inChannels] + kernel)
        let k5 = kernel.count == 2 ? [1] + kernel : kernel
        weight = kernel.count == 2 ? try w.unsqueezed(2) : w         // 2-D kernels as k_t = 1 (a view)
        bias = try store.take("\(key).bias", shape: [outChannels])
        self.kernel = k5
        spatialPadding = padding
        slot = k5[0] > 1 ? slots.next() : nil
    }

    var outChannels: Int { weight.shape[0] }

    // x: [C, T, H, W] (any float type) -> [O, T, H + 2p − kh + 1, W + 2p − kw + 1] f32; frames before x
    // come from the cache, which holds them in the operand type. `residual` (f32, the result's
    // shape) is added to the result, fused with the convolution where the backend can.
    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext) throws -> Tensor {
        try callAsFunction(x, state, ctx, adding: nil)
    }

    func callAsFunction(_ x: Tensor, _ state: VAECausalState, _ ctx: ComputeContext, adding residual: Tensor?) throws -> Tensor {
        let b = ctx.backend
        guard let slot else {
            let y = try conv(x, front: 0, ctx)
            return try residual.map { try b.add(y, $0) } ?? y
        }
        let history = kernel[0] - 1
        let input = try Self.operand(x, ctx)
        // The cached frames and the new ones, in order; the backend convolves them without
        // concatenating where it can.
        let parts = state.frames[slot] + [input]
        let total = parts.reduce(0) { $0 + $1.frameCount }
        let front = history - (total - input.frameCount)
        // The last `keep` frames of the parts become the cache. A piece that is a whole buffer (the
        // input of a one-frame group, or a piece cached before) is kept as it is; any other is copied
        // out, so the cache holds its frames and nothing more (and never a join of the pieces).
        let keep = min(history, total)
        var tail: [Tensor] = [], needed = keep
        for part in parts.reversed() where needed > 0 {
            let n = min(needed, part.frameCount)
            tail.insert(try part.frames(part.frameCount - n, n), at: 0)
            needed -= n
        }
        let output = try conv(parts, front: front, ctx, adding: residual)
        state.frames[slot] = try tail.map { try Self.isWholeBuffer($0) ? $0 : b.contiguous($0) }
        return output
    }

    /// True when t is dense and covers its whole buffer: keeping it keeps nothing else alive.
    static func isWholeBuffer(_ t: Tensor) -> Bool {
        t.isContiguous && t.offset == 0 && t.byteCount == t.buffer.byteCount
    }

    /// x in the context's operand type (bf16 compute rounds convolution inputs once, as autocast does).
    static func operand(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        x.dtype == ctx.dtype ? x : try ctx.backend.contiguous(x, dtype: ctx.dtype)
    }

    // x: [C, T, H, W] (zero-padded by `front` frames in time) -> [O, T + front − kt + 1, H', W'] f32
    func conv(_ x: Tensor, front: Int, _ ctx: ComputeContext) throws -> Tensor {
        let p = Padding(spatialPadding, spatialPadding)
        return try run(x, stride: [1, 1, 1], padding: [Padding(front, 0), p, p], ctx)
    }

    // parts: [C, Tᵢ, H, W] frames in order, in the operand type (zero-padded by `front` frames in time)
    // -> [O, ΣTᵢ + front − kt + 1, H', W'] f32, plus `residual` when given
    func conv(_ parts: [Tensor], front: Int, _ ctx: ComputeContext, adding residual: Tensor? = nil) throws -> Tensor {
        let p = Padding(spatialPadding, spatialPadding)
        let padding = [Padding(front, 0), p, p]
        if let residual {
            return try ctx.backend.conv3d(concatenating: parts.map { try $0.unsqueezed(0) }, weight: weight, bias: bias,
                                          stride: [1, 1, 1], padding: padding, adding: residual.unsqueezed(0)).squeezed(0)
        }
        guard parts.count > 1 else { return try conv(parts[0], front: front, ctx) }
        return try ctx.backend.conv3d(concatenating: parts.map { try $0.unsqueezed(0) }, weight: weight, bias: bias, stride: [1, 1, 1],
                                      padding: padding, outputType: .f32).squeezed(0)
    }

    // x: [C, T, H, W] -> [O, T', H', W'] f32 with explicit stride and padding (the resamplers).
    func run(_ x: Tensor, stride: [Int], padding: [Padding], _ ctx: ComputeContext) throws -> Tensor {
        try ctx.backend.conv3d(Self.operand(x, ctx).unsqueezed(0), weight: weight, bias: bias, stride: stride,
                               padding: padding, outputType: .f32).squeezed(0)
    }
}

/// The VAE's RMS_norm: x / max(‖x‖₂ over channels, 1e-12) · √C · gamma (+ bias when the
/// checkpoint has one; the released VAE has none).
struct VAENorm {
    let gamma: Tensor           // [C, 1, 1, 1] ([C, 1, 1] in attention blocks)
    let bias: Tensor?

    init(_ store: WeightStore, _ key: String, channels: Int, image: Bool = false) throws {
        let shape = image ? [channels, 1, 1] : [channels, 1, 1, 1]
        gamma = try store.take("\(key).gamma", shape: shape)
        bias = store.contains("\(key).bias") ? try store.take("\(key).bias", shape: shape) : nil
    }

    // x: [C, T, H, W] -> [C, T, H, W] f32
    func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        try ctx.backend.l2Norm(x, dim: 0, gamma: gamma, bias: bias, eps: 1e-12)
    }

    /// SiLU(norm(x)), rounded once to the context's operand type: the input of a convolution.
    // x: [C, T, H, W] -> [C, T, H, W] (ctx.dtype)
    func silu(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        try ctx.backend.l2NormSiLU(x, gamma: gamma, bias: bias, eps: 1e-12, outputType: ctx.dtype)
    }
}
