/// The Wan block's modulation as fused ops (a fast path beside a composition, as VAEBackend):
/// backends without them inherit the compositions below, which are the block's own expressions.
/// A fused kernel must give the composition's values: the same fp32 statistics and one rounding
/// per step of the composition (CUDA's kernels are bit-identical to it on the device).
public protocol ModulationBackend {
    /// LayerNorm(x) (no affine) · (1 + scale) + shift over the last dim, each step rounded to x's
    /// dtype as the composition rounds it, the result rounded once more to `outputType`. scale and
    /// shift hold C = x.shape.last elements ([C] or [1, C]).
    func modulatedLayerNorm(_ x: Tensor, scale: Tensor, shift: Tensor, eps: Float, outputType: DType) throws -> Tensor

    /// LayerNorm(x) · weight + bias over the last dim, stored in x's dtype as `layerNorm` stores it,
    /// then rounded once more to `outputType`: `layerNorm` followed by a conversion in one pass (the
    /// cross-attention's norm3 of the f32 residual stream, straight to the compute dtype).
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor

    /// x + gate · y for x [..., C] in f32, y of x's shape (any float dtype), gate of C elements:
    /// the product rounded to f32, then the sum. Result f32, dense.
    func gatedResidual(_ x: Tensor, _ y: Tensor, gate: Tensor) throws -> Tensor
}

extension Backend {
    public func modulatedLayerNorm(_ x: Tensor, scale: Tensor, shift: Tensor, eps: Float, outputType: DType) throws -> Tensor {
        if let m = self as? any ModulationBackend {
            return try m.modulatedLayerNorm(x, scale: scale, shift: shift, eps: eps, outputType: outputType)
        }
        return try composedModulatedLayerNorm(x, scale: scale, shift: shift, eps: eps, outputType: outputType)
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        if let m = self as? any ModulationBackend {
            return try m.layerNorm(x, weight: weight, bias: bias, eps: eps, outputType: outputType)
        }
        return try composedLayerNorm(x, weight: weight, bias: bias, eps: eps, outputType: outputType)
    }

    public func gatedResidual(_ x: Tensor, _ y: Tensor, gate: Tensor) throws -> Tensor {
        if let m = self as? any ModulationBackend { return try m.gatedResidual(x, y, gate: gate) }
        return try composedGatedResidual(x, y, gate: gate)
    }

    /// `modulatedLayerNorm` from primitives (the fallback, and the fused op's reference).
    public func composedModulatedLayerNorm(_ x: Tensor, scale: Tensor, shift: Tensor, eps: Float, outputType: DType) throws -> Tensor {
        let h = try add(mul(layerNorm(x, weight: nil, bias: nil, eps: eps), affine(scale, scale: 1, shift: 1)), shift)
        return h.dtype == outputType ? h : try contiguous(h, dtype: outputType)
    }

    /// `layerNorm(outputType:)` from primitives (the fallback, and the fused op's reference).
    public func composedLayerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        let y = try layerNorm(x, weight: weight, bias: bias, eps: eps)
        return y.dtype == outputType ? y : try contiguous(y, dtype: outputType)
    }

    /// `gatedResidual` from primitives (the fallback, and the fused op's reference).
    public func composedGatedResidual(_ x: Tensor, _ y: Tensor, gate: Tensor) throws -> Tensor {
        try add(x, mul(gate, y))
    }
}
