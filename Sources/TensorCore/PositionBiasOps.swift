#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport

/// An attention bias that depends on the distance between key and query only (T5's relative
/// position bias), expanded where it is used: [H, 2L − 1] values in, [H, L, L] out. Backends that
/// lack it inherit `RelativeBiasExpansion.onHost` (build on the host, upload), which gives the same values.
public protocol PositionBiasBackend {
    /// out[h, i, j] = byDistance[h, j − i + L − 1] where key j is real (`keep[j]` ≠ 0), `maskValue`
    /// where it is padding; out has byDistance's dtype (values are copied, never rounded again).
    /// byDistance: [H, 2L − 1] float on this backend; keep: [L] u8 on this backend or nil (all real).
    func expandRelativeBias(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor
}

extension Backend {
    public func expandRelativeBias(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor {
        if let b = self as? any PositionBiasBackend { return try b.expandRelativeBias(byDistance, keep: keep, maskValue: maskValue) }
        return try upload(RelativeBiasExpansion.onHost(toHost(byDistance), keep: keep.map { try toHost($0) }, maskValue: maskValue))
    }
}

/// The composition of `expandRelativeBias` on host tensors.
public enum RelativeBiasExpansion {
    /// Checks the operands and returns (H, L).
    public static func geometry(_ byDistance: Tensor, keep: Tensor?) throws -> (heads: Int, length: Int) {
        guard byDistance.rank == 2, byDistance.shape[1] % 2 == 1, byDistance.dtype.isFloatingPoint else {
            throw TensorError.invalidArgument("expandRelativeBias needs float values per distance [H, 2L−1], got \(byDistance.dtype)\(byDistance.shape)")
        }
        let l = (byDistance.shape[1] + 1) / 2
        if let keep, keep.shape != [l] || keep.dtype != .u8 {
            throw TensorError.invalidArgument("expandRelativeBias: keep must be u8 [\(l)] for [H, \(2 * l - 1)] values, got \(keep.dtype)\(keep.shape)")
        }
        return (byDistance.shape[0], l)
    }

    /// [H, L, L] on the host: each row i is the window byDistance[h, L−1−i ..< 2L−1−i] (one copy),
    /// then the padding keys are overwritten with `maskValue`.
    public static func onHost(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor {
        let (heads, l) = try geometry(byDistance, keep: keep)
        let dtype = byDistance.dtype, size = dtype.byteSize
        // A dense copy in the same type (exact: the values are converted back to the type they came from).
        let source = try Tensor.host(byDistance.floats(), shape: byDistance.shape, dtype: dtype)
        let out = try Tensor.hostEmpty([heads, l, l], dtype: dtype)
        guard heads > 0, l > 0 else { return out }
        let keepValues = try keep?.int64s() ?? []
        let masked = keepValues.indices.filter { keepValues[$0] == 0 }
        let fill = try Tensor.host([maskValue], shape: [1], dtype: dtype)
        let src = UncheckedSendable(try source.hostBuffer().base)
        let dst = UncheckedSendable(try out.hostBuffer().base), mask = UncheckedSendable(try fill.hostBuffer().base)
        withExtendedLifetime((source, fill)) {
            // Heads in parallel: a umT5-XXL block at 512 tokens writes 64 × 512 × 512 values.
            DispatchQueue.concurrentPerform(iterations: heads) { h in
                let byRel = src.value + h * (2 * l - 1) * size
                for i in 0..<l {
                    let row = dst.value + ((h * l + i) * l) * size
                    row.copyMemory(from: byRel + (l - 1 - i) * size, byteCount: l * size)
                    for j in masked { (row + j * size).copyMemory(from: mask.value, byteCount: size) }
                }
            }
        }
        return out
    }
}
