import SystemSupport
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// SageSLA's sparse branch emulated exactly in integer and fp8 arithmetic (docs/dit.md), as the
/// SpargeAttn sm89/sm90 kernels that TurboDiffusion calls compute it:
/// - q: int8 per `blockQ`-token block, scale = max|q|/127 + 1e-7, ties rounded away from zero;
/// - k − mean_tokens(k): the same per `blockK`-token block;
/// - v: fp8 e4m3 per channel over all tokens, scale = max|v|/2.25;
/// - scores s = (q8·k8)·sq·sk·scale·log2 e, online softmax in base 2 over the selected key blocks in
///   ascending order; probabilities are lifted by 2^8.807 (≈ 448) and cast to e4m3 for P·V, while the
///   row sum takes them before the cast; o = Σ P8·V8 / Σ P · v_scale.
/// Integer dot products are exact (|Σ| ≤ 127²·D < 2^24), so only fp32 rounding of the scales and
/// exponentials can differ from the GPU.
extension CPUBackend {
    static let fp8ProbabilityOffset: Float = 8.807

    public func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                              scale: Float) throws -> Tensor {
        for t in [q, k, v, blocks] { try requireHost(t, "quantizedBlockSparseAttention") }
        let shape = try SparseAttentionShape(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK)
        let (heads, lq, lk, d, dv, mq, keep) = (shape.heads, shape.lq, shape.lk, shape.d, shape.dv, shape.mq, shape.keep)
        let lut = try blocks.int64s()
        guard lut.allSatisfy({ $0 >= 0 && $0 < shape.mk }) else {
            throw TensorError.invalidArgument("block index outside 0..<\(shape.mk)")
        }
        let qd = try DenseF32(q), kd = try DenseF32(k), vd = try DenseF32(v)
        let qp = qd.pointer, kp = kd.pointer, vp = vd.pointer

        // Quantized operands, per head: q8/k8 int8 values (kept as Float: exact), their block scales,
        // v in fp8 (as Float) and its per-channel scale.
        let q8 = UnsafeMutablePointer<Float>.allocate(capacity: heads * lq * d)
        let k8 = UnsafeMutablePointer<Float>.allocate(capacity: heads * lk * d)
        let v8 = UnsafeMutablePointer<Float>.allocate(capacity: heads * lk * dv)
        let qScale = UnsafeMutablePointer<Float>.allocate(capacity: heads * mq)
        let kScale = UnsafeMutablePointer<Float>.allocate(capacity: heads * shape.mk)
        let vScale = UnsafeMutablePointer<Float>.allocate(capacity: heads * dv)
        defer { for p in [q8, k8, v8, qScale, kScale, vScale] { p.deallocate() } }
        let ptrs = UncheckedSendable((q8, k8, v8, qScale, kScale, vScale))

        Parallel.forEach(heads) { h in
            let (q8, k8, v8, qScale, kScale, vScale) = ptrs.value
            Self.quantizeInt8Blocks(qp + h * lq * d, rows: lq, width: d, block: blockQ, shift: nil,
                                    into: q8 + h * lq * d, scales: qScale + h * mq)
            var kMean = [Float](repeating: 0, count: d)
            let kh = kp + h * lk * d
            for t in 0..<lk { for c in 0..<d { kMean[c] += kh[t * d + c] } }
            for c in 0..<d { kMean[c] /= Float(lk) }
            Self.quantizeInt8Blocks(kh, rows: lk, width: d, block: blockK, shift: kMean,
                                    into: k8 + h * lk * d, scales: kScale + h * shape.mk)
            let vh = vp + h * lk * dv, v8h = v8 + h * lk * dv, vs = vScale + h * dv
            for c in 0..<dv {
                var amax: Float = 0
                for t in 0..<lk { amax = max(amax, abs(vh[t * dv + c])) }
                let s = amax / 2.25
                vs[c] = s > 0 ? s : 1
            }
            for t in 0..<lk { for c in 0..<dv { v8h[t * dv + c] = FP8E4M3.float(FP8E4M3.bits(vh[t * dv + c] / vs[c])) } }
        }

        let out = try empty([q.shape[0], q.shape[1], lq, dv], dtype: .f32)
        let op = out.mutableFloats
        let exponentScale = scale * Float(1.4426950408889634)   // log2 e
        Parallel.forEach(heads * mq) { job in
            let (q8, k8, v8, qScale, kScale, vScale) = ptrs.value
            let h = job / mq, qb = job % mq
            let q0 = qb * blockQ, rows = min(blockQ, lq - q0)
            let selected = lut[(job * keep)..<((job + 1) * keep)]
            var scores = [Float](repeating: 0, count: blockK)
            var acc = [Float](repeating: 0, count: dv)
            for i in 0..<rows {
                let qi = q8 + (h * lq + q0 + i) * d
                let sq = qScale[h * mq + qb]
                var m = -Float.infinity, sum: Float = 0
                for x in 0..<dv { acc[x] = 0 }
                for blk in selected.map({ Int($0) }) {
                    let k0 = blk * blockK, k1 = min(lk, k0 + blockK)
                    let sk = kScale[h * shape.mk + blk]
                    var blockMax = -Float.infinity
                    for j in k0..<k1 {
                        let s = Self.dot(qi, k8 + (h * lk + j) * d, d) * sq * sk * exponentScale
                        scores[j - k0] = s
                        blockMax = max(blockMax, s)
                    }
                    let mNew = max(m, blockMax)
                    if m > -Float.infinity, mNew > m {
                        let alpha = exp2f(m - mNew)
                        for x in 0..<dv { acc[x] *= alpha }
                        sum *= alpha
                    }
                    m = mNew
                    acc.withUnsafeMutableBufferPointer { a in
                        for j in k0..<k1 {
                            let p = exp2f(scores[j - k0] - m + Self.fp8ProbabilityOffset)
                            sum += p
                            Self.axpy(FP8E4M3.float(FP8E4M3.bits(p)), v8 + (h * lk + j) * dv, a.baseAddress!, dv)
                        }
                    }
                }
                let o = op + (h * lq + q0 + i) * dv, vs = vScale + h * dv
                for x in 0..<dv { o[x] = acc[x] / sum * vs[x] }
            }
        }
        return q.dtype == .f32 ? out : try contiguous(out, dtype: q.dtype)
    }

    /// int8 per block of `block` rows: scale = max|x − shift|/127 + 1e-7; value = trunc(y + ½·sign y).
    static func quantizeInt8Blocks(_ x: UnsafePointer<Float>, rows: Int, width: Int, block: Int, shift: [Float]?,
                                   into values: UnsafeMutablePointer<Float>, scales: UnsafeMutablePointer<Float>) {
        for (n, r0) in stride(from: 0, to: rows, by: block).enumerated() {
            let r1 = min(rows, r0 + block)
            for r in r0..<r1 { for c in 0..<width { values[r * width + c] = x[r * width + c] - (shift?[c] ?? 0) } }
            var amax: Float = 0
            for i in (r0 * width)..<(r1 * width) { amax = max(amax, abs(values[i])) }
            let s = amax / 127 + 1e-7
            scales[n] = s
            for i in (r0 * width)..<(r1 * width) {
                let y = values[i] / s
                values[i] = (y + (y >= 0 ? 0.5 : -0.5)).rounded(.towardZero)
            }
        }
    }
}

/// Shapes shared by the block-sparse attention ops, validated once.
struct SparseAttentionShape {
    let heads, lq, lk, d, dv, mq, mk, keep: Int

    init(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int) throws {
        guard q.rank == 4, k.rank == 4, v.rank == 4, blocks.rank == 4, blocks.dtype == .i32, blockQ > 0, blockK > 0 else {
            throw TensorError.invalidArgument("block-sparse attention needs [B, H, L, D] q/k/v and i32 blocks, got \(q.shape), \(k.shape), \(v.shape), \(blocks.dtype)\(blocks.shape)")
        }
        heads = q.shape[0] * q.shape[1]
        (lq, d, lk, dv) = (q.shape[2], q.shape[3], k.shape[2], v.shape[3])
        mq = (lq + blockQ - 1) / blockQ
        mk = (lk + blockK - 1) / blockK
        keep = blocks.shape[3]
        let (nb, nh) = (q.shape[0], q.shape[1])
        guard k.shape == [nb, nh, lk, d], v.shape == [nb, nh, lk, dv], blocks.shape == [nb, nh, mq, keep] else {
            throw TensorError.shapeMismatch("block-sparse attention q \(q.shape), k \(k.shape), v \(v.shape), blocks \(blocks.shape)")
        }
    }
}
