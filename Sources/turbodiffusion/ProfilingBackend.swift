#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport
import TensorCore

/// A backend that runs every op on `inner`, waits for it and adds its wall time to a per-op table
/// (`bench dit --profile`). Waiting after each op removes the overlap of launch and execution, so
/// totals are a little above an unprofiled run; shares between ops are what it is for.
final class ProfilingBackend: Backend, VAEBackend, ResidualConvolutionBackend, PositionBiasBackend, SparseAttentionBackend, SparseLinearBackend, QuantizedMatmulBackend, QuantizedMatmulGELUBackend, SharedInputQuantizedMatmulBackend,
    ModulationBackend, RMSNormRotaryBackend, MatmulGELUBackend, @unchecked Sendable {
    let inner: any Backend
    private(set) var table: [String: (calls: Int, seconds: Double)] = [:]
    /// When false, ops run without timing (e.g. during loading).
    var recording = true

    init(_ inner: any Backend) { self.inner = inner }

    var device: Device { inner.device }
    var name: String { inner.name + " (profiled)" }

    func reset() { table.removeAll() }

    /// Runs `body`, waits for the device and records the time under `op`.
    private func timed<T>(_ op: String, _ body: () throws -> T) throws -> T {
        guard recording else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        try inner.synchronize()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let entry = table[op] ?? (0, 0)
        table[op] = (entry.calls + 1, entry.seconds + seconds)
        return result
    }

    /// The table as text, largest first, with each op's share of `total` seconds.
    func report(total: Double) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        let sum = table.values.reduce(0) { $0 + $1.seconds }
        var lines = [pad("op", 40) + "  calls         ms   share"]
        for (op, e) in table.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            lines.append(pad(op, 40) + String(printf: " %6d %10.2f %6.1f%%", e.calls, e.seconds * 1000, 100 * e.seconds / max(total, 1e-12)))
        }
        lines.append(pad("sum of ops", 40) + String(printf: " %6@ %10.2f %6.1f%%", "", sum * 1000, 100 * sum / max(total, 1e-12)))
        return lines.joined(separator: "\n")
    }

    func empty(_ shape: [Int], dtype: DType) throws -> Tensor { try inner.empty(shape, dtype: dtype) }
    func upload(_ t: Tensor) throws -> Tensor { try timed("upload") { try inner.upload(t) } }
    func toHost(_ t: Tensor) throws -> Tensor { try timed("toHost") { try inner.toHost(t) } }
    func synchronize() throws { try inner.synchronize() }

    func contiguous(_ x: Tensor, dtype: DType?) throws -> Tensor {
        let what = dtype.map { $0 == x.dtype ? "copy" : "convert \(x.dtype)→\($0)" } ?? "copy"
        // A whole-buffer row-major tensor in its own dtype is returned as is by the CUDA backend.
        let layout = !x.isContiguous ? " (strided)" : x.isWholeBuffer ? " (whole row-major tensor)" : ""
        return try timed("contiguous \(what)\(layout)") { try inner.contiguous(x, dtype: dtype) }
    }
    func concat(_ xs: [Tensor], dim: Int) throws -> Tensor { try timed("concat") { try inner.concat(xs, dim: dim) } }
    func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor { try timed("pad") { try inner.pad(x, padding, value: value) } }
    func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor { try timed("unary \(op) \(x.dtype)") { try inner.unary(op, x) } }
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try timed("binary \(op) \(a.dtype)") { try inner.binary(op, a, b) }
    }
    func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor { try timed("affine") { try inner.affine(x, scale: scale, shift: shift) } }
    func softmax(_ x: Tensor) throws -> Tensor { try timed("softmax") { try inner.softmax(x) } }
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        try timed("layerNorm") { try inner.layerNorm(x, weight: weight, bias: bias, eps: eps) }
    }
    func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor { try timed("rmsNorm") { try inner.rmsNorm(x, weight: weight, eps: eps) } }
    func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        try timed("l2Norm") { try inner.l2Norm(x, dim: dim, gamma: gamma, bias: bias, eps: eps) }
    }
    func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        let m = a.count / max(a.shape.last ?? 1, 1)
        return try timed("matmul \(a.dtype) \(m > 4096 ? "large" : "small")") {
            try inner.matmul(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
    }
    func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor {
        try timed("attention \(q.dtype) Lk \(k.shape[2] == 512 ? "512 (cross)" : "self")") {
            try inner.attention(q: q, k: k, v: v, scale: scale, bias: bias)
        }
    }
    /// "conv3d 3x3x3 384→192 bf16": convolutions grouped by kernel, channels and type.
    static func convolutionLabel(_ op: String, _ x: Tensor, _ weight: Tensor) -> String {
        guard weight.rank >= 3 else { return op }
        let kernel = weight.shape[2...].map(String.init).joined(separator: "x")
        return "\(op) \(kernel) \(weight.shape[1])→\(weight.shape[0]) \(x.dtype)"
    }
    func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor { try timed("rotary") { try inner.rotary(x, cos: cos, sin: sin) } }
    func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        try timed(Self.convolutionLabel("conv3d", x, weight)) { try inner.conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding) }
    }
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        try timed(Self.convolutionLabel("conv2d", x, weight)) { try inner.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding) }
    }
    func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor {
        try timed("upsampleNearest") { try inner.upsampleNearest(x, scaleH: scaleH, scaleW: scaleW) }
    }

    func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        try timed("l2NormSiLU") { try inner.l2NormSiLU(x, gamma: gamma, bias: bias, eps: eps, outputType: outputType) }
    }
    func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType) throws -> Tensor {
        try timed(Self.convolutionLabel("conv3d", x, weight)) {
            try inner.conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
        }
    }
    func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                outputType: DType) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("conv3d of an empty list of parts") }
        return try timed(Self.convolutionLabel("conv3d", first, weight)) {
            try inner.conv3d(concatenating: parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
        }
    }
    /// Forwarded, so a profiled VAE runs the residual sum where the backend fuses it (cuDNN's
    /// epilogue), not as a separate add; the row is the convolution's, suffixed "+ residual".
    func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                adding residual: Tensor) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("conv3d of an empty list of parts") }
        return try timed(Self.convolutionLabel("conv3d", first, weight) + " + residual") {
            try inner.conv3d(concatenating: parts, weight: weight, bias: bias, stride: stride, padding: padding, adding: residual)
        }
    }
    func expandRelativeBias(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor {
        try timed("expandRelativeBias") { try inner.expandRelativeBias(byDistance, keep: keep, maskValue: maskValue) }
    }
    func slaBlockMap(q: Tensor, k: Tensor, blockQ: Int, blockK: Int, keep: Int) throws -> Tensor {
        try timed("slaBlockMap") { try inner.slaBlockMap(q: q, k: k, blockQ: blockQ, blockK: blockK, keep: keep) }
    }
    func blockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int, scale: Float) throws -> Tensor {
        try timed("blockSparseAttention") {
            try inner.blockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
        }
    }
    func quantizedBlockSparseAttention(q: Tensor, k: Tensor, v: Tensor, blocks: Tensor, blockQ: Int, blockK: Int,
                                       scale: Float) throws -> Tensor {
        try timed("quantizedBlockSparseAttention") {
            try inner.quantizedBlockSparseAttention(q: q, k: k, v: v, blocks: blocks, blockQ: blockQ, blockK: blockK, scale: scale)
        }
    }
    func slaLinearState(k: Tensor, v: Tensor) throws -> (kv: Tensor, kSum: Tensor) {
        try timed("slaLinearState") { try inner.slaLinearState(k: k, v: v) }
    }
    func slaLinearApply(q: Tensor, kv: Tensor, kSum: Tensor) throws -> Tensor {
        try timed("slaLinearApply") { try inner.slaLinearApply(q: q, kv: kv, kSum: kSum) }
    }
    func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        try timed("quantizedMatmul") { try inner.quantizedMatmul(x, weight: weight, scales: scales, bias: bias, outputType: outputType) }
    }
    func quantizedMatmuls(_ x: Tensor, _ products: [QuantizedProduct], outputType: DType) throws -> [Tensor] {
        try timed("quantizedMatmuls ×\(products.count)") { try inner.quantizedMatmuls(x, products, outputType: outputType) }
    }
    func quantizedMatmulGELU(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        try timed("quantizedMatmulGELU") { try inner.quantizedMatmulGELU(x, weight: weight, scales: scales, bias: bias, outputType: outputType) }
    }
    func modulatedLayerNorm(_ x: Tensor, scale: Tensor, shift: Tensor, eps: Float, outputType: DType) throws -> Tensor {
        try timed("modulatedLayerNorm") { try inner.modulatedLayerNorm(x, scale: scale, shift: shift, eps: eps, outputType: outputType) }
    }
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        try timed("layerNorm → \(outputType)") { try inner.layerNorm(x, weight: weight, bias: bias, eps: eps, outputType: outputType) }
    }
    func gatedResidual(_ x: Tensor, _ y: Tensor, gate: Tensor) throws -> Tensor {
        try timed("gatedResidual") { try inner.gatedResidual(x, y, gate: gate) }
    }
    func rmsNormRotary(_ x: Tensor, weight: Tensor?, eps: Float, cos: Tensor, sin: Tensor, heads: Int) throws -> Tensor {
        try timed("rmsNormRotary") { try inner.rmsNormRotary(x, weight: weight, eps: eps, cos: cos, sin: sin, heads: heads) }
    }

    func matmulGELU(_ a: Tensor, _ b: Tensor, transposeB: Bool, bias: Tensor?, outputType: DType) throws -> Tensor {
        try timed("matmulGELU \(a.dtype)→\(outputType)") {
            try inner.matmulGELU(a, b, transposeB: transposeB, bias: bias, outputType: outputType)
        }
    }
}
