import TensorCore

extension CPUBackend: QuantizedMatmulBackend {
    public func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        for t in [x, weight, scales] { try requireHost(t, "quantizedMatmul") }
        let blk = BlockQuantization.block
        guard x.rank >= 1, weight.rank == 2, weight.dtype == .i8, x.shape.last == weight.shape[1] else {
            throw TensorError.shapeMismatch("W8A8 matmul x \(x.dtype)\(x.shape) · weight \(weight.dtype)\(weight.shape): expected i8 [N, K] with K = x's last dim")
        }
        let (n, k) = (weight.shape[0], weight.shape[1])
        let m = x.count / max(k, 1)
        let kb = (k + blk - 1) / blk
        guard scales.shape == [(n + blk - 1) / blk, kb] else {
            throw TensorError.shapeMismatch("W8A8 scales \(scales.shape), expected [\((n + blk - 1) / blk), \(kb)] for weight \(weight.shape)")
        }
        var biasValues: [Float]?
        if let bias {
            guard bias.count == n else { throw TensorError.shapeMismatch("W8A8 bias \(bias.shape) for \(n) outputs") }
            biasValues = try bias.floats()
        }
        let xd = try DenseF32(x)
        let (qx, sx) = BlockQuantization.quantize(xd.pointer, rows: m, cols: k)
        let wq = try contiguous(weight)
        let wp = UnsafePointer(wq.rawBase.assumingMemoryBound(to: Int8.self))
        let sw = try scales.floats()
        let out = try empty(Array(x.shape.dropLast()) + [n], dtype: .f32)
        let op = out.mutableFloats
        qx.withUnsafeBufferPointer { qxb in
            let xp = qxb.baseAddress!
            Parallel.forRanges(m, minChunk: 4) { rows in
                for r in rows {
                    let xr = xp + r * k, mb = r / blk
                    for j in 0..<n {
                        let wr = wp + j * k, nb = j / blk
                        var acc: Float = 0
                        for b in 0..<kb {
                            var partial: Int32 = 0
                            for i in (b * blk)..<min(k, (b + 1) * blk) { partial &+= Int32(xr[i]) &* Int32(wr[i]) }
                            // One rounding for the block's scale, one fused multiply-add: upstream's
                            // int8 GEMM epilogue (`acc += float(p) * (sa * sb)`, contracted by nvcc).
                            acc = acc.addingProduct(Float(partial), sx[mb * kb + b] * sw[nb * kb + b])
                        }
                        op[r * n + j] = acc + (biasValues?[j] ?? 0)
                    }
                }
            }
        }
        return outputType == .f32 ? out : try contiguous(out, dtype: outputType)
    }
}
