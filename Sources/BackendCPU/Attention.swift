import TensorCore
#if canImport(Glibc)
import Glibc
#endif

extension CPUBackend {
    static let attentionQueryBlock = 16
    static let attentionKeyBlock = 64

    /// Flash-style attention: per query block, keys are visited in blocks with a running
    /// max and normaliser, so no [Lq, Lk] matrix is ever formed (the optional bias is read in place).
    public func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor {
        for t in [q, k, v] { try requireHost(t, "attention") }
        guard q.rank == 4, k.rank == 4, v.rank == 4 else {
            throw TensorError.invalidArgument("attention needs [B, H, L, D] tensors, got q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let lk = k.shape[2], dv = v.shape[3]
        guard k.shape == [nb, nh, lk, d], v.shape == [nb, nh, lk, dv] else {
            throw TensorError.shapeMismatch("attention q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        var biasView: Tensor?
        if let bias {
            try requireHost(bias, "attention bias")
            biasView = try bias.expanded(to: [nb, nh, lq, lk])
        }
        let qd = try DenseF32(q), kd = try DenseF32(k), vd = try DenseF32(v)
        let qp = qd.pointer, kp = kd.pointer, vp = vd.pointer
        let out = try empty([nb, nh, lq, dv], dtype: .f32)
        let op = out.mutableFloats
        let bq = Self.attentionQueryBlock, bk = Self.attentionKeyBlock
        let qBlocks = (lq + bq - 1) / bq
        let biasBase = biasView.map { UnsafeRawPointer($0.rawBase) }
        let biasStrides = biasView?.strides ?? [], biasOffset = biasView?.offset ?? 0, biasType = biasView?.dtype ?? .f32

        Parallel.forEach(nb * nh * qBlocks) { job in
            let head = job / qBlocks, q0 = (job % qBlocks) * bq, rows = min(bq, lq - q0)
            let bIdx = head / nh, hIdx = head % nh
            let qh = qp + (head * lq + q0) * d, kh = kp + head * lk * d, vh = vp + head * lk * dv
            var rowMax = [Float](repeating: -.infinity, count: rows)
            var rowSum = [Float](repeating: 0, count: rows)
            var acc = [Float](repeating: 0, count: rows * dv)
            var s = [Float](repeating: 0, count: bk)
            var k0 = 0
            while k0 < lk {
                let cols = min(bk, lk - k0)
                for i in 0..<rows {
                    let qi = qh + i * d
                    var blockMax = -Float.infinity
                    for j in 0..<cols {
                        var score = Self.dot(qi, kh + (k0 + j) * d, d) * scale
                        if let biasBase {
                            let e = biasOffset + bIdx * biasStrides[0] + hIdx * biasStrides[1]
                                + (q0 + i) * biasStrides[2] + (k0 + j) * biasStrides[3]
                            score += loadFloat(biasBase, e, biasType)
                        }
                        s[j] = score
                        blockMax = max(blockMax, score)
                    }
                    let newMax = max(rowMax[i], blockMax)
                    if newMax == -.infinity { continue }     // everything masked so far
                    let correction = expf(rowMax[i] - newMax)
                    rowMax[i] = newMax
                    var sum: Float = 0
                    acc.withUnsafeMutableBufferPointer { a in
                        let ai = a.baseAddress! + i * dv
                        if correction != 1 { for c in 0..<dv { ai[c] *= correction } }
                        for j in 0..<cols {
                            let p = expf(s[j] - newMax)
                            sum += p
                            Self.axpy(p, vh + (k0 + j) * dv, ai, dv)
                        }
                    }
                    rowSum[i] = rowSum[i] * correction + sum
                }
                k0 += cols
            }
            let o = op + (head * lq + q0) * dv
            for i in 0..<rows {
                // A row whose scores are all -inf has no distribution: NaN, as PyTorch's SDPA gives.
                let inv = rowSum[i] > 0 ? 1 / rowSum[i] : .nan
                for c in 0..<dv { o[i * dv + c] = acc[i * dv + c] * inv }
            }
        }
        return q.dtype == .f32 ? out : try contiguous(out, dtype: q.dtype)
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                            rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            acc1.addProduct(ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self),
                            rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < n { total += a[i] * b[i]; i += 1 }
        return total
    }

    /// y += alpha·x over n floats.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let av = SIMD8<Float>(repeating: alpha)
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while i + 8 <= n {
            var yv = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            yv.addProduct(av, rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            ry.storeBytes(of: yv, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }
}
