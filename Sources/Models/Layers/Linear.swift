import TensorCore

/// y = x·Wᵀ + b. Weight [out, in] under "<key>.weight", bias [out] under "<key>.bias"; or, in
/// TurboDiffusion's quantized layout, "<key>.int8_weight" i8 [out, in] with "<key>.scale" f32
/// [⌈out/128⌉, ⌈in/128⌉] (W = int8 · scale of its 128×128 block).
public struct Linear {
    public enum Storage {
        case dense(Tensor)
        case int8(values: Tensor, scales: Tensor)
    }
    public let storage: Storage
    public let bias: Tensor?

    /// `quantizable` marks the layers W8A8 applies to (upstream: q/k/v/o and the FFN inside blocks);
    /// a checkpoint that stores a layer quantized is honoured whatever the flag says.
    public init(_ store: WeightStore, _ key: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true,
                quantizable: Bool = false) throws {
        let blk = BlockQuantization.block
        let scaleShape = [(outFeatures + blk - 1) / blk, (inFeatures + blk - 1) / blk]
        if store.contains("\(key).int8_weight") {
            let values = try store.hostTensor("\(key).int8_weight", shape: [outFeatures, inFeatures])
            let scales = try store.hostTensor("\(key).scale", shape: scaleShape)
            guard values.dtype == .i8 else {
                throw ModelLoadError.unsupported("\(store.source): '\(key).int8_weight' is \(values.dtype), expected i8")
            }
            switch store.linearMode {
            case .w8a8: storage = .int8(values: try store.place(values), scales: try store.place(scales))
            case .dense: storage = .dense(try store.place(Self.dequantize(values, scales, as: store.matrixType)))
            }
        } else if store.linearMode == .w8a8 && quantizable {
            // Quantized on the host from the checkpoint's values (widened there); only int8 and scales
            // reach the device.
            let weight = try store.hostTensor("\(key).weight", shape: [outFeatures, inFeatures])
            guard weight.dtype.isFloatingPoint else {
                throw ModelLoadError.unsupported("\(store.source): '\(key).weight' is \(weight.dtype); expected a floating-point weight")
            }
            let q = try weight.floats().withUnsafeBufferPointer { BlockQuantization.quantizeParallel($0.baseAddress!, rows: outFeatures, cols: inFeatures) }
            storage = .int8(values: try store.place(Tensor.host(q.values.map(Float.init), shape: [outFeatures, inFeatures], dtype: .i8)),
                            scales: try store.place(Tensor.host(q.scales, shape: scaleShape)))
        } else {
            storage = .dense(try store.matrix("\(key).weight", shape: [outFeatures, inFeatures]))
        }
        bias = hasBias ? try store.take("\(key).bias", shape: [outFeatures]) : nil
    }

    /// Wraps an already loaded dense weight (e.g. a reshaped convolution kernel).
    public init(weight: Tensor, bias: Tensor?) {
        storage = .dense(weight)
        self.bias = bias
    }

    init(storage: Storage, bias: Tensor?) {
        self.storage = storage
        self.bias = bias
    }

    /// W = int8 · block scale, as a host tensor of `dtype`.
    static func dequantize(_ values: Tensor, _ scales: Tensor, as dtype: DType) throws -> Tensor {
        let (rows, cols) = (values.shape[0], values.shape[1])
        let q = try values.floats(), s = try scales.floats()
        let cb = scales.shape[1], blk = BlockQuantization.block
        var w = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { w[r * cols + c] = q[r * cols + c] * s[(r / blk) * cb + c / blk] } }
        return try Tensor.host(w, shape: [rows, cols], dtype: dtype)
    }

    /// True when the product rounds its input to the compute dtype first (dense weights), so a
    /// producer may hand it that rounding already; the W8A8 product quantises its input as given.
    public var roundsInputToComputeType: Bool {
        if case .dense = storage { return true }
        return false
    }

    // x: [..., in] -> [..., out] in the context's dtype
    public func callAsFunction(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        switch storage {
        case .dense(let weight):
            let input = x.dtype == ctx.dtype ? x : try ctx.backend.contiguous(x, dtype: ctx.dtype)
            return try ctx.backend.matmul(input, weight, transposeB: true, bias: bias, outputType: ctx.dtype)
        case let .int8(values, scales):
            return try ctx.backend.quantizedMatmul(x, weight: values, scales: scales, bias: bias, outputType: ctx.dtype)
        }
    }
}

extension Linear {
    /// Every layer applied to the same x, in order, when all are W8A8: the backend quantises x once
    /// for all of them (`quantizedMatmuls`: a block's q, k and v), with the values of applying them one
    /// by one. nil when any layer is dense (apply those one at a time, each result freed sooner).
    // x: [..., in] -> [[..., out]] in the context's dtype
    public static func applyQuantized(_ layers: [Linear], to x: Tensor, _ ctx: ComputeContext) throws -> [Tensor]? {
        let products: [QuantizedProduct] = layers.compactMap { layer in
            guard case let .int8(values, scales) = layer.storage else { return nil }
            return QuantizedProduct(weight: values, scales: scales, bias: layer.bias)
        }
        guard products.count == layers.count else { return nil }
        return try ctx.backend.quantizedMatmuls(x, products, outputType: ctx.dtype)
    }

    /// geluTanh(self(x)): one GEMM with the activation in its epilogue where the backend has one
    /// (`MatmulGELUBackend`, which rounds once where the composition rounds the product first;
    /// `QuantizedMatmulGELUBackend`, the composition's values exactly), else the product then
    /// `unary(.geluTanh)`.
    // x: [..., in] -> [..., out] in the context's dtype
    public func geluTanh(_ x: Tensor, _ ctx: ComputeContext) throws -> Tensor {
        switch storage {
        case .dense(let weight):
            let input = x.dtype == ctx.dtype ? x : try ctx.backend.contiguous(x, dtype: ctx.dtype)
            return try ctx.backend.matmulGELU(input, weight, transposeB: true, bias: bias, outputType: ctx.dtype)
        case let .int8(values, scales):
            return try ctx.backend.quantizedMatmulGELU(x, weight: values, scales: scales, bias: bias, outputType: ctx.dtype)
        }
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

    init(weight: Tensor, eps: Float) {
        self.weight = weight
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

    init(weight: Tensor?, bias: Tensor?, eps: Float) {
        self.weight = weight
        self.bias = bias
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

    /// The f32 result rounded once to `outputType` (what a Linear taking it would round it to), in one
    /// pass where the backend fuses it.
    // x: [..., dim] -> [..., dim] outputType
    public func callAsFunction(_ x: Tensor, _ ctx: ComputeContext, outputType: DType) throws -> Tensor {
        let x32 = x.dtype == .f32 ? x : try ctx.backend.contiguous(x, dtype: .f32)
        return try ctx.backend.layerNorm(x32, weight: weight, bias: bias, eps: eps, outputType: outputType)
    }
}

extension Linear: WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> Linear {
        let moved: Storage = switch storage {
        case .dense(let w): .dense(try move(w))
        case let .int8(values, scales): .int8(values: try move(values), scales: try move(scales))
        }
        return Linear(storage: moved, bias: try bias.map(move))
    }
}

extension RMSNorm: WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> RMSNorm { RMSNorm(weight: try move(weight), eps: eps) }
}

extension LayerNorm: WeightPlaceable {
    func placed(_ move: (Tensor) throws -> Tensor) throws -> LayerNorm {
        LayerNorm(weight: try weight.map(move), bias: try bias.map(move), eps: eps)
    }
}
