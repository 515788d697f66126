#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Dense layouts other than the row-major one. A backend may return results whose memory is a
/// permutation of their logical order (attention outputs with the heads interleaved, elementwise
/// results following their first operand); only the logical values are defined by the CPU backend.
/// `Tensor.reshaped` throws on such views, so a caller that needs row-major memory asks
/// `Backend.contiguous`, which copies only when the layout is not already row-major.
extension Tensor {
    /// Row-major dense and spanning its whole buffer (offset 0, every byte in use): a contiguous copy
    /// would hold the same bytes and free nothing, so `contiguous` may return the tensor itself.
    public var isWholeBuffer: Bool {
        isContiguous && offset == 0 && byteCount == buffer.byteCount
    }

    /// When this view is a permutation of a dense layout but not row-major itself: the order `p` of
    /// its dims from outermost to innermost in memory, so `permuted(p)` is contiguous (and
    /// `permuted(p).permuted(Tensor.inverse(p))` has this view's shape and strides). nil when the
    /// view is row-major already, has a broadcast (stride 0) or gapped dim, or is empty. Dims of
    /// size 1 (whose stride is never used) come first, in logical order.
    public var denseMemoryOrder: [Int]? {
        guard count > 0, !isContiguous else { return nil }
        let units = (0..<rank).filter { shape[$0] == 1 }
        let spans = (0..<rank).filter { shape[$0] != 1 }.sorted { a, b in
            strides[a] != strides[b] ? strides[a] > strides[b] : a < b
        }
        var expected = 1
        for i in spans.reversed() {
            guard strides[i] == expected else { return nil }
            expected *= shape[i]
        }
        return units + spans
    }

    /// The inverse permutation: `inverse(p)[p[i]] == i`.
    public static func inverse(_ p: [Int]) -> [Int] {
        var q = [Int](repeating: 0, count: p.count)
        for (i, d) in p.enumerated() { q[d] = i }
        return q
    }
}
