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
}

extension Backend {
    public func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        if let v = self as? any VAEBackend { return try v.l2NormSiLU(x, gamma: gamma, bias: bias, eps: eps, outputType: outputType) }
        let x32 = x.dtype == .f32 ? x : try contiguous(x, dtype: .f32)
        let y = try unary(.silu, l2Norm(x32, dim: 0, gamma: gamma, bias: bias, eps: eps))
        return outputType == .f32 ? y : try contiguous(y, dtype: outputType)
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
