/// RMSNorm over the full width followed by rotary embedding per head (the Wan self-attention's
/// q and k) as one fused op, a fast path beside its composition as `ModulationBackend`.
/// Backends without it inherit the composition below, which is the block's own expression; a
/// fused kernel must give the composition's values bit for bit (the same fp32 statistics, the
/// normalised value rounded to x's dtype, × weight, rounded again, then rotated as `rotary`).
public protocol RMSNormRotaryBackend {
    /// rotary(rmsNorm(x, weight, eps) viewed as [..., L, heads, C/heads], cos, sin).
    /// x: [..., L, C] with C = heads·D, D even; weight [C]; cos, sin [L, D/2].
    /// -> [..., L, heads, D] dense in x's dtype.
    func rmsNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor
}

extension Backend {
    public func rmsNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor {
        if let m = self as? any RMSNormRotaryBackend {
            return try m.rmsNormRotary(x, weight: weight, eps: eps, cos: cos, sin: sin, heads: heads)
        }
        return try composedRMSNormRotary(x, weight: weight, eps: eps, cos: cos, sin: sin, heads: heads)
    }

    /// `rmsNormRotary` from primitives (the fallback, and the fused op's reference).
    public func composedRMSNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor {
        let shape = try RMSNormRotaryShape(x, cos: cos, sin: sin, heads: heads)
        return try rotary(rmsNorm(x, weight: weight, eps: eps).reshaped(shape.output), cos: cos, sin: sin)
    }
}

/// The checked geometry of `rmsNormRotary`: x [..., L, C], C = heads·D, D even, tables [L, D/2].
public struct RMSNormRotaryShape {
    /// Positions L (the dim before the last), the head dim D and D/2.
    public let length, headDim, half: Int
    /// Rows of C (all dims but the last).
    public let rows: Int
    /// [..., L, heads, D].
    public let output: [Int]

    public init(_ x: Tensor, cos: Tensor, sin: Tensor, heads: Int) throws {
        guard x.rank >= 2, heads > 0, let c = x.shape.last, c % heads == 0, (c / heads) % 2 == 0, c > 0 else {
            throw TensorError.invalidArgument("rmsNormRotary needs x [..., L, heads·D] with even D, got \(x.shape) for \(heads) heads")
        }
        length = x.shape[x.rank - 2]
        headDim = c / heads
        half = headDim / 2
        guard cos.shape == [length, half], sin.shape == [length, half] else {
            throw TensorError.shapeMismatch("rmsNormRotary tables \(cos.shape)/\(sin.shape), expected [\(length), \(half)] for x \(x.shape) and \(heads) heads")
        }
        rows = x.count / c
        output = Array(x.shape.dropLast()) + [heads, headDim]
    }
}
