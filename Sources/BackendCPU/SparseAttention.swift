import TensorCore
#if canImport(Glibc)
import Glibc
#endif

extension CPUBackend: SparseAttentionBackend {
    public func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor {
        try requireHost(q, "slaBlockMap")
        try requireHost(k, "slaBlockMap")
        guard q.rank == 4, k.rank == 4, q.shape[0] == k.shape[0], q.shape[1] == k.shape[1], q.shape[3] == k.shape[3] else {
            throw TensorError.shapeMismatch("slaBlockMap q \(q.shape), k \(k.shape): expected [B, H, L, D] with equal B, H, D")
        }
        let (nb, nh, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let lk = k.shape[2]
        let mq = (lq + blockQ - 1) / blockQ, mk = (lk + blockK - 1) / blockK
        guard blockQ > 0, blockK > 0, keep >= 1, keep <= mk else {
            throw TensorError.invalidArgument("slaBlockMap keeps \(keep) of \(mk) key blocks (blocks \(blockQ)×\(blockK))")
        }
        let qd = try DenseF32(q), kd = try DenseF32(k)
        let qp = qd.pointer, kp = kd.pointer
        let out = try empty([nb, nh, mq, keep], dtype: .i32)
        let op = out.rawBase.assumingMemoryBound(to: Int32.self)
        Parallel.forEach(nb * nh) { head in
            let qh = qp + head * lq * d, kh = kp + head * lk * d
            // Token mean of k (the smoothing), then block means of q and of the smoothed k.
            var kMean = [Float](repeating: 0, count: d)
            for t in 0..<lk { for c in 0..<d { kMean[c] += kh[t * d + c] } }
            for c in 0..<d { kMean[c] /= Float(lk) }
            func pooled(_ base: UnsafePointer<Float>, _ length: Int, _ block: Int, _ blocks: Int, shift: [Float]?) -> [Float] {
                var r = [Float](repeating: 0, count: blocks * d)
                for b in 0..<blocks {
                    let t0 = b * block, t1 = min(length, t0 + block)
                    for t in t0..<t1 { for c in 0..<d { r[b * d + c] += base[t * d + c] - (shift?[c] ?? 0) } }
                    for c in 0..<d { r[b * d + c] /= Float(t1 - t0) }
                }
                return r
            }
            let pq = pooled(qh, lq, blockQ, mq, shift: nil)
            let pk = pooled(kh, lk, blockK, mk, shift: kMean)
            var scores = [(Float, Int)](repeating: (0, 0), count: mk)
            for i in 0..<mq {
                for j in 0..<mk {
                    var s: Float = 0
                    for c in 0..<d { s += pq[i * d + c] * pk[j * d + c] }
                    scores[j] = (s, j)
                }
                // Highest scores first; equal scores keep the lower block index.
                scores.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                let row = op + ((head * mq) + i) * keep
                let chosen = scores.prefix(keep).map(\.1).sorted()
                for (n, j) in chosen.enumerated() { row[n] = Int32(j) }
            }
        }
        return out
    }

    public func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor {
        for t in [q, k, v, blocks] { try requireHost(t, "blockSparseAttention") }
        let shape = try SparseAttentionShape(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK)
        let (nb, nh, lq, d, lk, dv) = (q.shape[0], q.shape[1], shape.lq, shape.d, shape.lk, shape.dv)
        let (mq, mk, keep) = (shape.mq, shape.mk, shape.keep)
        let lut = try blocks.int64s()
        guard lut.allSatisfy({ $0 >= 0 && $0 < mk }) else { throw TensorError.invalidArgument("block index outside 0..<\(mk)") }
        let qd = try DenseF32(q), kd = try DenseF32(k), vd = try DenseF32(v)
        let qp = qd.pointer, kp = kd.pointer, vp = vd.pointer
        let out = try empty([nb, nh, lq, dv], dtype: .f32)
        let op = out.mutableFloats
        Parallel.forEach(nb * nh * mq) { job in
            let head = job / mq, qb = job % mq
            let q0 = qb * blockQ, rows = min(blockQ, lq - q0)
            let kh = kp + head * lk * d, vh = vp + head * lk * dv
            let selected = lut[(job * keep)..<((job + 1) * keep)]
            for i in 0..<rows {
                let qi = qp + (head * lq + q0 + i) * d
                var m = -Float.infinity, sum: Float = 0
                var acc = [Float](repeating: 0, count: dv)
                for blk in selected {
                    let k0 = Int(blk) * blockK, k1 = min(lk, k0 + blockK)
                    for j in k0..<k1 {
                        let s = Self.dot(qi, kh + j * d, d) * scale
                        if s > m {
                            let c = expf(m - s)
                            for x in 0..<dv { acc[x] *= c }
                            sum *= c
                            m = s
                        }
                        let p = expf(s - m)
                        sum += p
                        acc.withUnsafeMutableBufferPointer { Self.axpy(p, vh + j * dv, $0.baseAddress!, dv) }
                    }
                }
                let o = op + (head * lq + q0 + i) * dv
                for x in 0..<dv { o[x] = acc[x] / sum }
            }
        }
        return q.dtype == .f32 ? out : try contiguous(out, dtype: q.dtype)
    }
}
