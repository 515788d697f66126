/// GELU(tanh)(a·b + bias) as one op: a fast path beside its composition, for backends whose GEMM
/// applies the activation in its epilogue (the DiT's FFN input and text embedding).
///
/// The fused form may differ from the composition by rounding only: the composition rounds the
/// product to `outputType` and evaluates GELU on that value, an epilogue evaluates GELU on the fp32
/// accumulator and rounds once. Backends without it inherit the composition, which is the
/// reference's own sequence of roundings.
public protocol MatmulGELUBackend {
    /// geluTanh(matmul(a, b, transposeB:, bias:, outputType:)), shapes as `matmul`.
    func matmulGELU(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor
}

extension Backend {
    public func matmulGELU(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        if let m = self as? any MatmulGELUBackend {
            return try m.matmulGELU(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
        return try composedMatmulGELU(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
    }

    /// `matmulGELU` from primitives (the fallback, and the fused op's reference).
    public func composedMatmulGELU(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        try unary(.geluTanh, matmul(a, b, transposeB: transposeB, bias: bias, outputType: outputType))
    }
}
