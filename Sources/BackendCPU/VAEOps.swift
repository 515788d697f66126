import TensorCore
#if canImport(Glibc)
import Glibc
#endif

extension CPUBackend: VAEBackend {
    public func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                       outputType: DType) throws -> Tensor {
        try concatenatedConv3d(parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
    }

    public func videoBytes(_ video: Tensor) throws -> Tensor {
        try requireHost(video, "videoBytes")
        return try VideoBytes.convert(video)
    }

    public func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        try requireHost(x, "l2NormSiLU")
        guard x.rank >= 1, x.dtype.isFloatingPoint, outputType.isFloatingPoint else {
            throw TensorError.invalidArgument("l2NormSiLU needs a float tensor [C, ...] and a float output type, got \(x.dtype)\(x.shape) -> \(outputType)")
        }
        let c = x.shape[0]
        guard let g = try channelVector(gamma, count: c, "l2NormSiLU gamma") else { throw TensorError.invalidArgument("l2NormSiLU gamma") }
        let b = try channelVector(bias, count: c, "l2NormSiLU bias")
        let xc = x.isContiguous && Self.gemmTypes.contains(x.dtype) ? x : try contiguous(x, dtype: .f32)
        let inner = x.count / max(c, 1)
        let out = try empty(x.shape, dtype: outputType)
        let src = UnsafeRawPointer(xc.rawBase) + xc.offset * xc.dtype.byteSize
        let rootC = Float(c).squareRoot()
        let scale = g.map { $0 * rootC }
        switch xc.dtype {
        case .f32: Self.l2NormSiLU(GemmF32.self, src, out, c: c, inner: inner, scale: scale, bias: b, eps: eps)
        case .bf16: Self.l2NormSiLU(GemmBF16.self, src, out, c: c, inner: inner, scale: scale, bias: b, eps: eps)
        default: Self.l2NormSiLU(GemmF16.self, src, out, c: c, inner: inner, scale: scale, bias: b, eps: eps)
        }
        return out
    }

    /// Per run of `chunk` positions: the channel sum of squares, then each channel's values.
    static func l2NormSiLU<E: GemmElement>(_: E.Type, _ src: UnsafeRawPointer, _ out: Tensor, c: Int, inner: Int,
                                           scale: [Float], bias: [Float]?, eps: Float) {
        let chunk = 512
        let chunks = (inner + chunk - 1) / chunk
        let dst = out.rawBase, dt = out.dtype
        let f32Out = dt == .f32
        scale.withUnsafeBufferPointer { sc in
            let bv = bias ?? []
            bv.withUnsafeBufferPointer { bp in
                // (An empty array's buffer may still have a base address: test bias itself.)
                let sp = sc.baseAddress!, bptr = bias == nil ? nil : bp.baseAddress
                Parallel.forEach(chunks) { k in
                    let i0 = k * chunk, n = Swift.min(chunk, inner - i0)
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: chunk) { inv in
                        inv.initialize(repeating: 0)
                        for ch in 0..<c {
                            let row = ch &* inner &+ i0
                            for i in 0..<n { let v = E.widen(src, row &+ i); inv[i] += v * v }
                        }
                        for i in 0..<n { inv[i] = 1 / Swift.max(inv[i].squareRoot(), eps) }
                        for ch in 0..<c {
                            let row = ch &* inner &+ i0
                            let s = sp[ch], bc = bptr?[ch] ?? 0
                            if f32Out {
                                let o = dst.assumingMemoryBound(to: Float.self) + row
                                for i in 0..<n {
                                    let y = E.widen(src, row &+ i) * inv[i] * s + bc
                                    o[i] = y / (1 + expf(-y))
                                }
                            } else {
                                for i in 0..<n {
                                    let y = E.widen(src, row &+ i) * inv[i] * s + bc
                                    storeFloat(y / (1 + expf(-y)), dst, row &+ i, dt)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
