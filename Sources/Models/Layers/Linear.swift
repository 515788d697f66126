import TensorCore

/// y = x·Wᵀ + b. Weight [out, in] under "<key>.weight", bias [out] under "<key>.bias".
public struct Linear {
    public let weight: Tensor
    public let bias: Tensor?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(_ store: WeightStore, _ key: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try store.matrix("\(key).weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try store.take("\(key).bias", shape: [outFeatures]) : nil
    }

    /// Wraps an already loaded weight (e.g. a reshaped convolution kernel).
    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }

    // x: [..., in] -> [..., out] in the context's dtype
    public func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let input = x.dtype == ctx.dtype ? x : try ctx.backend.contiguous(x, dtype: ctx.dtype)
        return try ctx.backend.matmul(input, weight, transposeB: true, bias: bias, outputType: ctx.dtype)
    }
}

/// Wan's RMSNorm over the last dim: normalise in fp32, cast to x's type, times weight [dim].
public struct RMSNorm {
    public let weight: Tensor
    public let eps: Float

    public init(_ store: WeightStore, _ key: String, dim: Int, eps: Float) throws {
        weight = try store.take("\(key).weight", shape: [dim])
        self.eps = eps
    }

    // x: [..., dim] -> [..., dim]
    public func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        try ctx.backend.rmsNorm(x, weight: weight, eps: eps)
    }
}

/// LayerNorm over the last dim in fp32, optionally with affine weight and bias [dim].
public struct LayerNorm {
    public let weight: Tensor?
    public let bias: Tensor?
    public let eps: Float

    public init(_ store: WeightStore, _ key: String, dim: Int, eps: Float) throws {
        weight = try store.take("\(key).weight", shape: [dim])
        bias = try store.take("\(key).bias", shape: [dim])
        self.eps = eps
    }

    /// Without affine parameters (Wan's norm1/norm2/head norm).
    public init(eps: Float) {
        weight = nil
        bias = nil
        self.eps = eps
    }

    // x: [..., dim] -> [..., dim] f32
    public func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        let x32 = x.dtype == .f32 ? x : try ctx.backend.contiguous(x, dtype: .f32)
        return try ctx.backend.layerNorm(x32, weight: weight, bias: bias, eps: eps)
    }
}
