import TensorCore

extension CPUBackend: RMSNormRotaryBackend {
    /// rmsNorm and rotary in one pass over each row: the same double statistics (`rmsScale`), the
    /// value rounded at rmsNorm's store, then rotary's rotation, so the result equals the
    /// composition bit for bit. Dtypes other than f32/bf16/f16 take the composition.
    public func rmsNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor {
        try requireHost(x, "rmsNormRotary")
        let shape = try RMSNormRotaryShape(x, cos: cos, sin: sin, heads: heads)
        guard [.f32, .bf16, .f16].contains(x.dtype) else {
            return try composedRMSNormRotary(x, weight: weight, eps: eps, cos: cos, sin: sin, heads: heads)
        }
        let n = x.shape[x.rank - 1], half = shape.half, dd = shape.headDim, l = shape.length
        let w = try channelVector(weight, count: n, "rmsNormRotary weight")
        let cv = try cos.floats(), sv = try sin.floats()
        let out = try empty(shape.output, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(shape.rows, minChunk: max(1, 4096 / max(n, 1))) { rows in
            for r in rows {
                let row = s + r * n, pos = r % l
                let scale = Self.rmsScale(row, count: n, eps: eps)
                for i in stride(from: 0, to: n, by: 2) {
                    // rmsNorm's stored values, reloaded, then rotary's expressions.
                    let a = Self.roundedTo(Self.rmsValue(row[i], scale: scale, weight: w?[i], dt), dt)
                    let b = Self.roundedTo(Self.rmsValue(row[i + 1], scale: scale, weight: w?[i + 1], dt), dt)
                    let t = pos * half + (i % dd) / 2
                    let c = cv[t], sn = sv[t]
                    storeFloat(a * c - b * sn, d, r * n + i, dt)
                    storeFloat(a * sn + b * c, d, r * n + i + 1, dt)
                }
            }
        }
        return out
    }
}
