import TensorCore
#if canImport(Glibc)
import Glibc
#endif

extension CPUBackend {
    /// Reads a per-channel parameter ([C], or [C, 1, 1, …]) as C floats.
    func channelVector(_ t: Tensor?, count: Int, _ what: String) throws -> [Float]? {
        guard let t else { return nil }
        try requireHost(t, what)
        guard t.count == count, t.shape.first(where: { $0 != 1 }) ?? 1 == count || count == 1 else {
            throw TensorError.shapeMismatch("\(what) has shape \(t.shape), expected \(count) channels")
        }
        return try t.floats()
    }

    public func softmax(_ x: Tensor) throws -> Tensor {
        try requireHost(x, "softmax")
        guard x.rank >= 1 else { throw TensorError.invalidArgument("softmax of a scalar") }
        let n = x.shape[x.rank - 1]
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(x.count / max(n, 1), minChunk: max(1, 4096 / max(n, 1))) { rows in
            var tmp = [Float](repeating: 0, count: n)
            for r in rows {
                let row = s + r * n
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, row[i]) }
                var sum: Float = 0
                for i in 0..<n { let e = expf(row[i] - m); tmp[i] = e; sum += e }
                let inv = 1 / sum
                for i in 0..<n { storeFloat(tmp[i] * inv, d, r * n + i, dt) }
            }
        }
        return out
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        try requireHost(x, "layerNorm")
        let n = x.shape.last ?? 1
        let w = try channelVector(weight, count: n, "layerNorm weight")
        let b = try channelVector(bias, count: n, "layerNorm bias")
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(x.count / max(n, 1), minChunk: max(1, 4096 / max(n, 1))) { rows in
            for r in rows {
                let row = s + r * n
                // Two-pass mean/variance in double: exact enough to be an oracle.
                var sum = 0.0
                for i in 0..<n { sum += Double(row[i]) }
                let mean = sum / Double(n)
                var sq = 0.0
                for i in 0..<n { let c = Double(row[i]) - mean; sq += c * c }
                let rstd = Float(1 / (sq / Double(n) + Double(eps)).squareRoot())
                let meanF = Float(mean)
                for i in 0..<n {
                    var v = (row[i] - meanF) * rstd
                    if let w { v *= w[i] }
                    if let b { v += b[i] }
                    storeFloat(v, d, r * n + i, dt)
                }
            }
        }
        return out
    }

    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor {
        try requireHost(x, "rmsNorm")
        let n = x.shape.last ?? 1
        let w = try channelVector(weight, count: n, "rmsNorm weight")
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        Parallel.forRanges(x.count / max(n, 1), minChunk: max(1, 4096 / max(n, 1))) { rows in
            for r in rows {
                let row = s + r * n
                let scale = Self.rmsScale(row, count: n, eps: eps)
                for i in 0..<n { storeFloat(Self.rmsValue(row[i], scale: scale, weight: w?[i], dt), d, r * n + i, dt) }
            }
        }
        return out
    }

    /// RMSNorm's scale of one row of `count` floats, 1/√(Σx²/count + eps), summed in double in
    /// order (shared with rmsNormRotary, which must agree bit for bit).
    static func rmsScale(_ row: UnsafePointer<Float>, count n: Int, eps: Float) -> Float {
        var sq = 0.0
        for i in 0..<n { sq += Double(row[i]) * Double(row[i]) }
        return Float(1 / (sq / Double(n) + Double(eps)).squareRoot())
    }

    /// RMSNorm's value of x before its store: x·scale rounded to the dtype, then × weight.
    @inline(__always)
    static func rmsValue(_ x: Float, scale: Float, weight: Float?, _ dt: DType) -> Float {
        var v = roundedTo(x * scale, dt)
        if let weight { v *= weight }
        return v
    }

    /// v rounded to a float dtype and back (what a store and a reload give).
    @inline(__always)
    static func roundedTo(_ v: Float, _ dt: DType) -> Float {
        switch dt {
        case .bf16: BF16.round(v)
        case .f16: FP16.float(FP16.bits(v))
        default: v
        }
    }

    public func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        try requireHost(x, "l2Norm")
        let ax = try x.axis(dim)
        let c = x.shape[ax]
        let g = try channelVector(gamma, count: c, "l2Norm gamma")
        let b = try channelVector(bias, count: c, "l2Norm bias")
        let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[(ax + 1)...].reduce(1, *)
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        let rootC = Float(c).squareRoot()
        // Work unit: one outer index × a run of inner positions, accumulated across channels.
        let chunk = 256
        let chunksPerOuter = (inner + chunk - 1) / chunk
        Parallel.forEach(outer * chunksPerOuter) { job in
            let o = job / chunksPerOuter, i0 = (job % chunksPerOuter) * chunk, i1 = Swift.min(inner, i0 + chunk)
            var norm = [Float](repeating: 0, count: i1 - i0)
            let base = o * c * inner
            for ch in 0..<c {
                let p = s + base + ch * inner
                for i in i0..<i1 { norm[i - i0] += p[i] * p[i] }
            }
            for i in 0..<norm.count { norm[i] = 1 / Swift.max(norm[i].squareRoot(), eps) }
            for ch in 0..<c {
                let p = s + base + ch * inner
                let gc = (g?[ch] ?? 1) * rootC, bc = b?[ch] ?? 0
                for i in i0..<i1 { storeFloat(p[i] * norm[i - i0] * gc + bc, d, base + ch * inner + i, dt) }
            }
        }
        return out
    }

    public func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        try requireHost(x, "rotary")
        guard x.rank >= 3, x.shape[x.rank - 1] % 2 == 0 else {
            throw TensorError.invalidArgument("rotary needs x [..., L, H, D] with even D, got \(x.shape)")
        }
        let l = x.shape[x.rank - 3], h = x.shape[x.rank - 2], dd = x.shape[x.rank - 1], half = dd / 2
        guard cos.shape == [l, half], sin.shape == [l, half] else {
            throw TensorError.shapeMismatch("rotary tables \(cos.shape)/\(sin.shape), expected [\(l), \(half)] for x \(x.shape)")
        }
        let cv = try cos.floats(), sv = try sin.floats()
        let out = try empty(x.shape, dtype: x.dtype)
        let src = try DenseF32(x)
        let s = src.pointer, d = out.rawBase, dt = out.dtype
        let rows = x.count / dd   // rows of D, ordered (..., l, h)
        Parallel.forRanges(rows, minChunk: 64) { r in
            for row in r {
                let pos = (row / h) % l
                let p = s + row * dd
                for j in 0..<half {
                    let a = p[2 * j], b = p[2 * j + 1]
                    let c = cv[pos * half + j], sn = sv[pos * half + j]
                    storeFloat(a * c - b * sn, d, row * dd + 2 * j, dt)
                    storeFloat(a * sn + b * c, d, row * dd + 2 * j + 1, dt)
                }
            }
        }
        return out
    }
}
