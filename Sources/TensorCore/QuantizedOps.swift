import Dispatch
import SystemSupport

/// W8A8 block quantisation (docs/dit.md): 128×128 blocks, scale = amax/128, values rounded to
/// nearest (ties to even) and saturated to [-128, 127].
public enum BlockQuantization {
    public static let block = 128

    /// Quantises a row-major [rows, cols] matrix. -> (int8 values, scales [⌈rows/128⌉, ⌈cols/128⌉]).
    /// An all-zero block gets scale 0 and zero values.
    public static func quantize(_ x: UnsafePointer<Float>, rows: Int, cols: Int) -> (values: [Int8], scales: [Float]) {
        let rb = (rows + block - 1) / block, cb = (cols + block - 1) / block
        var values = [Int8](repeating: 0, count: rows * cols)
        var scales = [Float](repeating: 0, count: rb * cb)
        for bi in 0..<rb {
            for bj in 0..<cb {
                let r0 = bi * block, r1 = min(rows, r0 + block), c0 = bj * block, c1 = min(cols, c0 + block)
                var amax: Float = 0
                for r in r0..<r1 { for c in c0..<c1 { amax = max(amax, abs(x[r * cols + c])) } }
                let scale = amax / 128
                scales[bi * cb + bj] = scale
                guard scale > 0 else { continue }
                for r in r0..<r1 {
                    for c in c0..<c1 {
                        let q = (x[r * cols + c] / scale).rounded(.toNearestOrEven)
                        values[r * cols + c] = Int8(max(-128, min(127, q)))
                    }
                }
            }
        }
        return (values, scales)
    }
}

extension BlockQuantization {
    /// `quantize` over bands of 128 rows in parallel (bands are independent: the same values).
    public static func quantizeParallel(_ x: UnsafePointer<Float>, rows: Int, cols: Int) -> (values: [Int8], scales: [Float]) {
        let bands = (rows + block - 1) / block, cb = (cols + block - 1) / block
        guard bands > 1 else { return quantize(x, rows: rows, cols: cols) }
        var values = [Int8](repeating: 0, count: rows * cols), scales = [Float](repeating: 0, count: bands * cb)
        values.withUnsafeMutableBufferPointer { vd in
            scales.withUnsafeMutableBufferPointer { sd in
                let io = UncheckedSendable((x: x, values: vd.baseAddress!, scales: sd.baseAddress!))
                // Each band writes its own rows of values and its own row of scales.
                DispatchQueue.concurrentPerform(iterations: bands) { band in
                    let r0 = band * block, n = min(block, rows - r0)
                    let part = quantize(io.value.x + r0 * cols, rows: n, cols: cols)
                    part.values.withUnsafeBufferPointer { (io.value.values + r0 * cols).update(from: $0.baseAddress!, count: n * cols) }
                    part.scales.withUnsafeBufferPointer { (io.value.scales + band * cb).update(from: $0.baseAddress!, count: cb) }
                }
            }
        }
        return (values, scales)
    }
}

/// Backends with a W8A8 matrix product.
public protocol QuantizedMatmulBackend {
    /// y = dequant(quant(x) · Wqᵀ) + bias: x [..., K] float is quantised per 128 rows × 128
    /// columns at run time; weight i8 [N, K] with scales f32 [⌈N/128⌉, ⌈K/128⌉]; int32 partial sums
    /// per 128-wide K block are scaled by both block scales and summed in fp32; bias [N] added after.
    /// -> [..., N] of `outputType`.
    func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor
}

/// One W8A8 Linear's operands, as `quantizedMatmul` takes them.
public struct QuantizedProduct {
    public var weight: Tensor
    public var scales: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, scales: Tensor, bias: Tensor?) {
        self.weight = weight
        self.scales = scales
        self.bias = bias
    }
}

/// Several W8A8 products of the same x (a block's q, k and v): backends that quantise x once.
public protocol SharedInputQuantizedMatmulBackend {
    /// `quantizedMatmul(x, …)` for each product, in order.
    func quantizedMatmuls(_ x: Tensor, _ products: [QuantizedProduct], outputType: DType) throws -> [Tensor]
}

/// geluTanh(quantizedMatmul(…)) as one op (the W8A8 FFN input), for backends whose W8A8 GEMM applies
/// the activation in its epilogue. Unlike `matmulGELU`'s fused form it must give the composition's
/// values exactly: GELU of each product rounded to `outputType`, rounded again.
public protocol QuantizedMatmulGELUBackend {
    /// geluTanh(quantizedMatmul(x, weight:, scales:, bias:, outputType:)), shapes as `quantizedMatmul`.
    func quantizedMatmulGELU(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor
}

extension Backend {
    public func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        guard let q = self as? any QuantizedMatmulBackend else {
            throw TensorError.unsupported("W8A8 matmul is not implemented on \(device) yet; run without --quant_linear (weights are then dequantised)")
        }
        return try q.quantizedMatmul(x, weight: weight, scales: scales, bias: bias, outputType: outputType)
    }

    public func quantizedMatmuls(_ x: Tensor, _ products: [QuantizedProduct], outputType: DType) throws -> [Tensor] {
        if let s = self as? any SharedInputQuantizedMatmulBackend { return try s.quantizedMatmuls(x, products, outputType: outputType) }
        return try products.map { try quantizedMatmul(x, weight: $0.weight, scales: $0.scales, bias: $0.bias, outputType: outputType) }
    }

    public func quantizedMatmulGELU(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        if let q = self as? any QuantizedMatmulGELUBackend {
            return try q.quantizedMatmulGELU(x, weight: weight, scales: scales, bias: bias, outputType: outputType)
        }
        return try composedQuantizedMatmulGELU(x, weight: weight, scales: scales, bias: bias, outputType: outputType)
    }

    /// `quantizedMatmulGELU` from the two ops (the fallback, and the fused op's definition).
    public func composedQuantizedMatmulGELU(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        try unary(.geluTanh, quantizedMatmul(x, weight: weight, scales: scales, bias: bias, outputType: outputType))
    }
}
