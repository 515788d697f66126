#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import TensorCore

/// T5's bidirectional relative position buckets and the per-layer attention bias built from
/// them (T5RelativeEmbedding + the key padding mask of T5Attention). The bias per distance
/// ([H, 2L − 1]) is built on the host; `Backend.expandRelativeBias` makes [H, L, L] of it where it is used.
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

    /// The bias per distance [H, 2L − 1] of `dtype`: element (h, r) is table[bucket(r − (L − 1)), h],
    /// r − (L − 1) = key − query. table: [numBuckets · H] host values, row-major [numBuckets, H].
    public static func byDistance(table: [Float], heads: Int, length l: Int, numBuckets: Int, maxDistance: Int,
                                  dtype: DType) throws -> Tensor {
        precondition(table.count == numBuckets * heads)
        let width = max(2 * l - 1, 0)
        var values = [Float](repeating: 0, count: heads * width)
        for r in 0..<width {
            let b = bucket(r - (l - 1), numBuckets: numBuckets, maxDistance: maxDistance)
            for h in 0..<heads { values[h * width + r] = table[b * heads + h] }
        }
        return try Tensor.host(values, shape: [heads, width], dtype: dtype)
    }

    /// The key padding mask as u8 [L] (1 = real key), or nil when every key is real.
    public static func keepMask(_ keep: [Bool]?) throws -> Tensor? {
        guard let keep, keep.contains(false) else { return nil }
        let t = try Tensor.hostEmpty([keep.count], dtype: .u8)
        let p = try t.hostBuffer().base
        for (i, k) in keep.enumerated() { p.storeBytes(of: k ? 1 : 0, toByteOffset: i, as: UInt8.self) }
        return t
    }

    /// Attention bias [H, L, L] of `dtype` on the host: table[bucket(j − i), h] where key j is real,
    /// the mask value where it is padding (masked_fill replaces, it does not add).
    /// table: [numBuckets · H] host values, row-major [numBuckets, H]; keep: per key, false = padding.
    public static func bias(table: [Float], heads: Int, length l: Int, keep: [Bool]?, numBuckets: Int, maxDistance: Int,
                            dtype: DType) throws -> Tensor {
        precondition(table.count == numBuckets * heads && (keep?.count ?? l) == l)
        guard l > 0 else { return try Tensor.hostEmpty([heads, 0, 0], dtype: dtype) }
        return try RelativeBiasExpansion.onHost(byDistance(table: table, heads: heads, length: l, numBuckets: numBuckets,
                                                           maxDistance: maxDistance, dtype: dtype),
                                                keep: keepMask(keep), maskValue: maskValue(dtype))
    }
}
