import TensorCore

extension Tensor {
    /// GEMM operand for the trailing 2-D matrix of this view at element offset `at`.
    func matrixOperand(at elementOffset: Int, transposed: Bool) -> MatrixOperand {
        let r = rank
        let rs = strides[r - 2], cs = strides[r - 1]
        return MatrixOperand(base: UnsafeRawPointer(rawBase) + elementOffset * dtype.byteSize, dtype: dtype,
                             rowStride: transposed ? cs : rs, colStride: transposed ? rs : cs)
    }
}

extension CPUBackend {
    static let gemmTypes: Set<DType> = [.f32, .bf16, .f16]

    public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        try requireHost(a, "matmul")
        try requireHost(b, "matmul")
        guard a.rank >= 2, b.rank >= 2 else { throw TensorError.invalidArgument("matmul needs matrices, got \(a.shape) · \(b.shape)") }
        guard Self.gemmTypes.contains(a.dtype), Self.gemmTypes.contains(b.dtype) else {
            throw TensorError.unsupported("matmul of \(a.dtype) · \(b.dtype) (int8 weights go through Int8Linear)")
        }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let bk = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        let batchShape = Array(a.shape.dropLast(2))
        let bBatch = Array(b.shape.dropLast(2))
        guard bk == k, bBatch.isEmpty || bBatch == batchShape else {
            throw TensorError.shapeMismatch("matmul \(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : ""): inner sizes \(k) and \(bk)")
        }
        var biasValues: [Float]?
        if let bias {
            guard bias.count == n else { throw TensorError.shapeMismatch("matmul bias \(bias.shape) for \(n) output columns") }
            biasValues = try bias.floats()
        }
        let out = try empty(batchShape + [m, n], dtype: .f32)
        let c = out.mutableFloats
        let batches = batchShape.reduce(1, *)

        // A shared B and batch dims that flatten into M make one large GEMM.
        var mergeable = bBatch.isEmpty
        var expected = a.strides[a.rank - 2] * m
        for d in stride(from: batchShape.count - 1, through: 0, by: -1) where batchShape[d] != 1 {
            if a.strides[d] != expected { mergeable = false }
            expected *= batchShape[d]
        }
        if mergeable {
            CPUGemm.multiply(m: m * batches, n: n, k: k, a: a.matrixOperand(at: a.offset, transposed: false),
                             b: b.matrixOperand(at: b.offset, transposed: transposeB), c: c, ldc: n, accumulate: false)
        } else {
            var idx = [Int](repeating: 0, count: batchShape.count)
            for batch in 0..<batches {
                var ao = a.offset, bo = b.offset
                for (d, i) in idx.enumerated() {
                    ao += i * a.strides[d]
                    if !bBatch.isEmpty { bo += i * b.strides[d] }
                }
                CPUGemm.multiply(m: m, n: n, k: k, a: a.matrixOperand(at: ao, transposed: false),
                                 b: b.matrixOperand(at: bo, transposed: transposeB), c: c + batch * m * n, ldc: n, accumulate: false)
                var d = idx.count - 1
                while d >= 0 { idx[d] += 1; if idx[d] < batchShape[d] { break }; idx[d] = 0; d -= 1 }
            }
        }
        if let biasValues {
            Parallel.forRanges(batches * m, minChunk: 64) { rows in
                for r in rows { for j in 0..<n { c[r * n + j] += biasValues[j] } }
            }
        }
        return outputType == .f32 ? out : try contiguous(out, dtype: outputType)
    }
}
