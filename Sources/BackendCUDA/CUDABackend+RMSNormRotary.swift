import TensorCore

/// RMSNorm then rotary in one pass (td_rms_norm_rotary in Kernels/norms.cu): bit-identical to the
/// composition (td_rms_norm, then td_rotary), which runs instead for operands the kernel does not take.
extension CUDABackend: RMSNormRotaryBackend {
    public func rmsNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor {
        let source = try deviceBuffer(x, "rmsNormRotary")
        _ = try deviceBuffer(cos, "rmsNormRotary cos")
        _ = try deviceBuffer(sin, "rmsNormRotary sin")
        let shape = try RMSNormRotaryShape(x, cos: cos, sin: sin, heads: heads)
        try activate()
        let cols = x.shape[x.rank - 1], rows = shape.rows
        let weightParameter = try channelParameter(weight, count: cols, "rmsNormRotary weight")
        let dt = try floatCode(x.dtype, "rmsNormRotary")
        let cCode = try floatCode(cos.dtype, "rmsNormRotary cos"), sCode = try floatCode(sin.dtype, "rmsNormRotary sin")
        let out = try empty(shape.output, dtype: x.dtype)
        guard rows > 0 else { return out }
        // The statistics equal td_rms_norm's only under its launch shape (block size, `vec`, `perWarp`).
        let l = try rowNormLaunch(x, rows: rows, cols: cols)
        // The vector path stores groups of 4 (16 bytes for f32): without an aligned output the
        // composition keeps the vector statistics.
        if l.vec, try address(out) % 16 != 0 {
            return try composedRMSNormRotary(x, weight: weight, eps: eps, cos: cos, sin: sin, heads: heads)
        }
        let cached = l.vec && l.cached
        let cosT = cos.isContiguous ? cos : try contiguous(cos), sinT = sin.isContiguous ? sin : try contiguous(sin)
        // Candidate: the in-row index arithmetic in 32 bits (identical results; cols < 2³² always holds).
        let kernel = kernelSet == .candidate && cols <= Int(UInt32.max) ? "td_rms_norm_rotary_u32" : "td_rms_norm_rotary"
        try launch(.norms, kernel, grid: l.grid, block: l.block, sharedBytes: cached ? l.sharedBytes : 0, [
            .pointer(try address(out)), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides[x.rank - 1])), .int64(Int64(rows)), .int64(Int64(cols)),
            .int32(l.vec ? 1 : 0), .int32(cached ? 1 : 0), .int32(l.perWarp ? 1 : 0),
            .pointer(try weightParameter.map { try address($0.tensor) } ?? 0), .int32(weightParameter?.code ?? 0), .float(eps),
            .int64(Int64(shape.length)), .int64(Int64(shape.half)),
            .pointer(try address(cosT)), .int32(cCode), .pointer(try address(sinT)), .int32(sCode),
        ])
        return out
    }
}
