/// Ops the video VAE needs beyond `Backend`: a fused norm + SiLU and convolutions whose result
/// type differs from the input's (bf16 operands, f32 results). Backends that lack them inherit
/// compositions of `Backend` ops below, which give the same values.
public protocol VAEBackend {
    /// SiLU(x / max(‖x‖₂ over dim 0, eps) · √C · gamma + bias) for a channel-first x [C, ...]
    /// (C = x.shape[0]); gamma and bias have C elements (any shape of C and ones). Computed in f32,
    /// one rounding to `outputType`.
    func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor

    /// `Backend.conv3d` with the result in `outputType` (x and weight may be bf16; f32 accumulation).
    func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType) throws -> Tensor

    /// `conv3d(outputType:)` of the concatenation of `parts` along time (dim 2 of [N, C, T, H, W]),
    /// without materializing the concatenation where the backend can (a causal layer's cached
    /// frames followed by its new ones). Same values as concat + conv3d.
    func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                outputType: DType) throws -> Tensor

    /// A decoded video as frame bytes: [3, F, H, W] float in [−1, 1] → [F, H, W, 3] u8, each
    /// value `VideoBytes.byte(v)`, on this backend (a quarter of the float video's bytes to read back).
    func videoBytes(_ video: Tensor) throws -> Tensor
}

/// A convolution whose result gets a residual added, as the VAE's residual blocks end (an optional
/// fused capability: backends without it inherit the composition in `Backend`).
public protocol ResidualConvolutionBackend {
    /// `conv3d(concatenating:)` into f32 plus `residual` (f32, the result's shape): each output is
    /// (conv + bias) + residual, both sums rounded to f32, the values of the convolution followed by
    /// `add(result, residual)`.
    func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                adding residual: Tensor) throws -> Tensor
}

/// The VAE's output range [−1, 1] as 8-bit RGB.
public enum VideoBytes {
    /// UInt8((clamp(v, −1, 1) + 1) / 2 · 255 + 0.5), truncated; every operation rounded to f32 on its
    /// own (no fused multiply-add, which a GPU kernel must not contract either); NaN → 0.
    @inline(__always)
    public static func byte(_ v: Float) -> UInt8 {
        if v.isNaN { return 0 }
        let c: Float = v < -1 ? -1 : (v > 1 ? 1 : v)
        let s = (c + 1) / 2
        return UInt8(s * 255 + 0.5)
    }

    /// `byte` over a host video [3, F, H, W] (any float type, any strides) into a host [F, H, W, 3] u8 tensor.
    public static func convert(_ video: Tensor) throws -> Tensor {
        guard video.rank == 4, video.shape[0] == 3, video.dtype.isFloatingPoint else {
            throw TensorError.invalidArgument("videoBytes needs a float video [3, F, H, W], got \(video.dtype)\(video.shape)")
        }
        let (f, h, w) = (video.shape[1], video.shape[2], video.shape[3])
        let values = try video.floats()   // [3, F, H, W] row-major
        let out = try Tensor.hostEmpty([f, h, w, 3], dtype: .u8)
        let o = try out.hostBuffer().base.assumingMemoryBound(to: UInt8.self)
        let plane = f * h * w
        values.withUnsafeBufferPointer { v in
            for i in 0..<plane {
                for c in 0..<3 { o[3 * i + c] = byte(v[c * plane + i]) }
            }
        }
        return out
    }
}

extension Backend {
    public func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        if let v = self as? any VAEBackend { return try v.l2NormSiLU(x, gamma: gamma, bias: bias, eps: eps, outputType: outputType) }
        let x32 = x.dtype == .f32 ? x : try contiguous(x, dtype: .f32)
        let y = try unary(.silu, l2Norm(x32, dim: 0, gamma: gamma, bias: bias, eps: eps))
        return outputType == .f32 ? y : try contiguous(y, dtype: outputType)
    }

    public func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                       outputType: DType) throws -> Tensor {
        if let v = self as? any VAEBackend {
            return try v.conv3d(concatenating: parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
        }
        return try concatenatedConv3d(parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
    }

    public func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                       adding residual: Tensor) throws -> Tensor {
        if let r = self as? any ResidualConvolutionBackend {
            return try r.conv3d(concatenating: parts, weight: weight, bias: bias, stride: stride, padding: padding, adding: residual)
        }
        return try residualConv3d(parts, weight: weight, bias: bias, stride: stride, padding: padding, adding: residual)
    }

    /// The composition of `conv3d(concatenating:adding:)`: the convolution into f32, then `add`.
    public func residualConv3d(_ parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                               adding residual: Tensor) throws -> Tensor {
        let y = try conv3d(concatenating: parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: .f32)
        guard residual.shape == y.shape else {
            throw TensorError.shapeMismatch("conv3d residual \(residual.shape) for a result of \(y.shape)")
        }
        return try add(y, residual)
    }

    /// The composition of `conv3d(concatenating:)`: concat, then conv3d.
    public func concatenatedConv3d(_ parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                                   outputType: DType) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("conv3d of an empty list of parts") }
        let x = parts.count == 1 ? first : try concat(parts, dim: 2)
        return try conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
    }

    public func videoBytes(_ video: Tensor) throws -> Tensor {
        if let v = self as? any VAEBackend { return try v.videoBytes(video) }
        return try VideoBytes.convert(toHost(video))
    }

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType) throws -> Tensor {
        if let v = self as? any VAEBackend {
            return try v.conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
        }
        // Backend.conv3d rounds to x's type: widen x first (exact) unless that is the type wanted.
        let input = x.dtype == outputType || x.dtype == .f32 ? x : try contiguous(x, dtype: .f32)
        let y = try conv3d(input, weight: weight, bias: bias, stride: stride, padding: padding)
        return y.dtype == outputType ? y : try contiguous(y, dtype: outputType)
    }
}
