/// Elementwise functions of one tensor. Computed in fp32; the result has the input's dtype.
public enum UnaryOp: String, CaseIterable, Sendable {
    case neg, exp, sqrt, rsqrt, square, tanh, sigmoid
    case silu            // x·σ(x)
    case geluTanh        // 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
    case geluErf         // 0.5x(1 + erf(x/√2))
}

/// Elementwise functions of two broadcast tensors. Computed in fp32.
public enum BinaryOp: String, CaseIterable, Sendable {
    case add, sub, mul, div, maximum, minimum
}

/// Padding of one dimension: elements added before and after.
public struct Padding: Sendable, Equatable {
    public var before: Int
    public var after: Int
    public init(_ before: Int, _ after: Int) { self.before = before; self.after = after }
    public static let none = Padding(0, 0)
}

/// A compute device with its own memory and an ordered work queue.
///
/// Ops take tensors that live on `device` and return new tensors on it. A backend may run
/// ops asynchronously in submission order (CUDA enqueues on a stream); `toHost` and
/// `synchronize` wait for all submitted work. The CPU backend runs each op before returning.
/// Unless stated otherwise ops compute in fp32 and accept any strided view as input.
public protocol Backend: AnyObject, Sendable {
    var device: Device { get }
    /// A human-readable name, e.g. "cpu (2 threads)" or "cuda:0 NVIDIA H100 80GB HBM3".
    var name: String { get }

    // MARK: Memory

    /// A new contiguous tensor with unspecified contents.
    func empty(_ shape: [Int], dtype: DType) throws -> Tensor
    /// Copies a host tensor to this device (contiguous result). On the CPU: returns `t` unchanged.
    func upload(_ t: Tensor) throws -> Tensor
    /// Copies a tensor of this device to a contiguous host tensor, waiting for pending work.
    func toHost(_ t: Tensor) throws -> Tensor
    /// Waits until all submitted work has finished; reports asynchronous failures.
    func synchronize() throws

    // MARK: Layout

    /// A contiguous (row-major) tensor with `x`'s values, converted to `dtype` (nil keeps it). A
    /// backend may return `x` itself when it already is row-major in that dtype and spans its whole
    /// buffer (`Tensor.isWholeBuffer`); any other view is copied.
    func contiguous(_ x: Tensor, dtype: DType?) throws -> Tensor
    /// Joins tensors of equal shape except along `dim`.
    func concat(_ xs: [Tensor], dim: Int) throws -> Tensor
    /// Constant padding, one `Padding` per dimension (fewer entries pad the trailing dims).
    func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor

    // MARK: Elementwise

    func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor
    /// Broadcasting binary op; the result's dtype is `a`'s.
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor
    /// x·scale + shift, elementwise.
    func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor

    // MARK: Normalisation (over the last dimension unless stated)

    /// Softmax over the last dimension.
    func softmax(_ x: Tensor) throws -> Tensor
    /// (x − mean)/√(var + eps) · weight + bias; weight and bias optional, shape [C].
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor
    /// RMSNorm as in Wan/T5: normalise in fp32, cast to x's dtype, then multiply by weight [C].
    func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor
    /// The VAE's RMS_norm: x / max(‖x‖₂, eps) · √C · gamma along `dim` (C = size of `dim`);
    /// gamma broadcast along `dim` (shape [C] or with trailing ones), bias optional likewise.
    func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor

    // MARK: Linear algebra

    /// C = A·B (+ bias). a: [..., M, K]; b: [K, N], or [N, K] with `transposeB` (a Linear
    /// weight), or batched with a's leading dims; bias: [N]. Accumulates in fp32.
    /// Result dtype `outputType`.
    func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor

    // MARK: Attention and position encoding

    /// softmax(q·kᵀ·scale + bias)·v computed blockwise (O(L) extra memory).
    /// q: [B, H, Lq, D], k: [B, H, Lk, D], v: [B, H, Lk, Dv] -> [B, H, Lq, Dv].
    /// bias (optional) broadcasts to [B, H, Lq, Lk]. Result dtype is q's.
    func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor
    /// Rotary embedding on interleaved pairs: (x[2j], x[2j+1]) rotated by angle[l, j].
    /// x: [..., L, H, D]; cos, sin: [L, D/2] -> same shape and dtype as x.
    func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor

    // MARK: Convolution and resampling

    /// 3-D convolution. x: [B, C, T, H, W]; weight: [O, C/groups… (groups = 1), kt, kh, kw];
    /// bias [O]. Zero padding per spatial dim given as (T, H, W) `Padding`s, which may be
    /// asymmetric (causal convs pad time in front only). -> [B, O, T', H', W'].
    func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor
    /// 2-D convolution. x: [B, C, H, W]; weight [O, C, kh, kw] -> [B, O, H', W'].
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor
    /// Nearest-exact upsampling of the last two dims by integer factors. x: [..., H, W] -> [..., H·sh, W·sw].
    func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor
}

extension Backend {
    public func contiguous(_ x: Tensor) throws -> Tensor { try contiguous(x, dtype: nil) }
    public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws -> Tensor {
        try matmul(a, b, transposeB: transposeB, bias: nil, outputType: .f32)
    }
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.add, a, b) }
    public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.mul, a, b) }
    public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(.sub, a, b) }
}
