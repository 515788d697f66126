#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import TensorCore

/// T5's bidirectional relative position buckets and the per-layer attention bias built from
/// them (T5RelativeEmbedding + the key padding mask of T5Attention). Everything here is small
/// ([H, L, L]) and built on the host.
public enum RelativePositionBias {
    /// Bucket of `rel = key − query` (bidirectional): half the buckets for rel ≤ 0, half (offset
    /// by numBuckets/2) for rel > 0. Within a half, |rel| < maxExact (= a quarter of the
    /// buckets) is its own bucket; larger distances share logarithmic buckets up to
    /// `maxDistance`, capped at the half's last bucket.
    /// Computed in Float like the reference (`torch.log` of a float32 tensor, divided by the
    /// float32 rounding of `math.log(max_dist / max_exact)`), then truncated toward zero.
    public static func bucket(_ rel: Int, numBuckets: Int, maxDistance: Int) -> Int {
        let half = numBuckets / 2
        let maxExact = half / 2
        let side = rel > 0 ? half : 0
        let distance = abs(rel)
        if distance < maxExact { return side + distance }
        let ratio = Float(log(Double(maxDistance) / Double(maxExact)))
        let scaled = logf(Float(distance) / Float(maxExact)) / ratio * Float(half - maxExact)
        return side + min(maxExact + Int(scaled), half - 1)
    }

    /// The most negative finite value of a float type: `torch.finfo(dtype).min`, which
    /// T5Attention writes at masked keys (not −∞, so a fully masked row stays finite).
    public static func maskValue(_ dtype: DType) -> Float {
        switch dtype {
        case .bf16: -BF16.float(0x7F7F)                  // −3.3895314e38; f32's min would round to −∞
        case .f16: -65504
        default: -Float.greatestFiniteMagnitude
        }
    }

    /// Attention bias [H, L, L] of `dtype`: table[bucket(j − i), h] where key j is real, the mask
    /// value where it is padding (masked_fill replaces, it does not add).
    /// table: [numBuckets · H] host values, row-major [numBuckets, H]; keep: per key, false = padding.
    public static func bias(table: [Float], heads: Int, length l: Int, keep: [Bool]?, numBuckets: Int, maxDistance: Int,
                            dtype: DType) throws -> Tensor {
        precondition(table.count == numBuckets * heads && (keep?.count ?? l) == l)
        let out = try Tensor.hostEmpty([heads, l, l], dtype: dtype)
        guard l > 0 else { return out }
        let p = try out.hostBuffer().base
        let size = dtype.byteSize
        // bias[h, i, j] depends on j − i only: row i is the window byRel[L−1−i ..< 2L−1−i] of the
        // per-distance values (index r ↔ rel = r − (L − 1)), so every row is one copy.
        let buckets = (0..<(2 * l - 1)).map { bucket($0 - (l - 1), numBuckets: numBuckets, maxDistance: maxDistance) }
        let fill = try Tensor.host([maskValue(dtype)], shape: [1], dtype: dtype)
        let masked = (0..<l).filter { !(keep?[$0] ?? true) }
        let outBase = UncheckedRawPointer(p), maskValueBytes = UncheckedRawPointer(try fill.hostBuffer().base)
        // Heads in parallel: a umT5-XXL block at 512 tokens writes 64 × 512 × 512 values.
        withExtendedLifetime(fill) {
            DispatchQueue.concurrentPerform(iterations: heads) { h in
                let byRel = UnsafeMutableRawPointer.allocate(byteCount: (2 * l - 1) * size, alignment: 16)
                defer { byRel.deallocate() }
                for (i, b) in buckets.enumerated() { storeFloat(table[b * heads + h], byRel, i, dtype) }
                for i in 0..<l {
                    let row = outBase.p + ((h * l + i) * l) * size
                    row.copyMemory(from: byRel + (l - 1 - i) * size, byteCount: l * size)
                    for j in masked { (row + j * size).copyMemory(from: maskValueBytes.p, byteCount: size) }
                }
            }
        }
        return out
    }
}
