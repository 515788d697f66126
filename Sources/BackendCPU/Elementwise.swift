import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// Scalar definitions shared by every elementwise kernel (fp32 math).
enum ScalarMath {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    @inline(__always)
    static func apply(_ op: UnaryOp, _ x: Float) -> Float {
        switch op {
        case .neg: return -x
        case .exp: return expf(x)
        case .sqrt: return sqrtf(x)
        case .rsqrt: return 1 / sqrtf(x)
        case .square: return x * x
        case .tanh: return tanhf(x)
        case .sigmoid: return sigmoid(x)
        case .silu: return x * sigmoid(x)
        case .geluTanh:
            // 0.7978845608 = √(2/π)
            return 0.5 * x * (1 + tanhf(0.797_884_56 * (x + 0.044_715 * x * x * x)))
        case .geluErf: return 0.5 * x * (1 + erff(x * 0.707_106_77))
        }
    }

    @inline(__always)
    static func apply(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        // NaN propagates, as torch.maximum/minimum do.
        case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        case .minimum: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        }
    }
}

extension CPUBackend {
    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        try requireHost(x, "unary \(op)")
        guard x.dtype.isFloatingPoint else { throw TensorError.unsupported("unary \(op) on \(x.dtype)") }
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(x.count, minChunk: 8192) { r in
            if dt == .f32 {
                let o = d.assumingMemoryBound(to: Float.self)
                for i in r { o[i] = ScalarMath.apply(op, s[i]) }
            } else {
                for i in r { storeFloat(ScalarMath.apply(op, s[i]), d, i, dt) }
            }
        }
        return out
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try requireHost(a, "binary \(op)")
        try requireHost(b, "binary \(op)")
        guard a.dtype.isFloatingPoint, b.dtype.isFloatingPoint else {
            throw TensorError.unsupported("binary \(op) on \(a.dtype), \(b.dtype)")
        }
        let shape = try Tensor.broadcastShape(a.shape, b.shape)
        let ea = try a.expanded(to: shape), eb = try b.expanded(to: shape)
        let out = try empty(shape, dtype: a.dtype)
        let it = RowIterator(shape: shape, operands: [(ea.strides, ea.offset), (eb.strides, eb.offset)])
        let pa = UnsafeRawPointer(a.rawBase), pb = UnsafeRawPointer(b.rawBase), po = out.rawBase
        let ta = a.dtype, tb = b.dtype, to = out.dtype
        let n = it.rowLength, sa = it.innerStride(0), sb = it.innerStride(1)
        let fast = ta == .f32 && tb == .f32 && to == .f32
        it.forEachRow { row, o in
            let base = row * n
            if fast {
                let x = pa.assumingMemoryBound(to: Float.self), y = pb.assumingMemoryBound(to: Float.self)
                let z = po.assumingMemoryBound(to: Float.self)
                if sa == 1 && sb == 1 {
                    switch op {
                    case .add: for i in 0..<n { z[base + i] = x[o[0] + i] + y[o[1] + i] }
                    case .mul: for i in 0..<n { z[base + i] = x[o[0] + i] * y[o[1] + i] }
                    default: for i in 0..<n { z[base + i] = ScalarMath.apply(op, x[o[0] + i], y[o[1] + i]) }
                    }
                } else {
                    for i in 0..<n { z[base + i] = ScalarMath.apply(op, x[o[0] + i * sa], y[o[1] + i * sb]) }
                }
            } else {
                for i in 0..<n {
                    storeFloat(ScalarMath.apply(op, loadFloat(pa, o[0] + i * sa, ta), loadFloat(pb, o[1] + i * sb, tb)), po, base + i, to)
                }
            }
        }
        return out
    }

    public func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor {
        try requireHost(x, "affine")
        guard x.dtype.isFloatingPoint else { throw TensorError.unsupported("affine on \(x.dtype)") }
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(x.count, minChunk: 16_384) { r in
            for i in r { storeFloat(s[i] * scale + shift, d, i, dt) }
        }
        return out
    }

    public func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor {
        try requireHost(x, "upsampleNearest")
        guard x.rank >= 2, scaleH >= 1, scaleW >= 1 else {
            throw TensorError.invalidArgument("upsampleNearest needs [..., H, W] and positive factors, got \(x.shape) ×(\(scaleH), \(scaleW))")
        }
        // For integer factors nearest-exact (src = ⌊(dst + ½)/s⌋) equals dst / s.
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        var shape = x.shape
        shape[x.rank - 2] = h * scaleH
        shape[x.rank - 1] = w * scaleW
        let out = try empty(shape, dtype: x.dtype)
        let src = try contiguous(x)
        let sp = UnsafeRawPointer(src.rawBase), dp = out.rawBase
        let esz = x.dtype.byteSize, planes = x.count / max(h * w, 1), ow = w * scaleW
        Parallel.forRanges(planes * h * scaleH, minChunk: 64) { r in
            for orow in r {
                let plane = orow / (h * scaleH), oy = orow % (h * scaleH)
                let srow = sp + ((plane * h + oy / scaleH) * w) * esz
                let drow = dp + orow * ow * esz
                for ox in 0..<ow { (drow + ox * esz).copyMemory(from: srow + (ox / scaleW) * esz, byteCount: esz) }
            }
        }
        return out
    }
}
