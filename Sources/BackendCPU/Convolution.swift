import TensorCore

extension CPUBackend {
    /// Columns of im2col materialised at once: bounds the scratch memory of any convolution.
    static let im2colBudgetElements = 8 << 20

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        guard x.rank == 4, weight.rank == 4, stride.count == 2, padding.count == 2 else {
            throw TensorError.invalidArgument("conv2d needs x [B,C,H,W], weight [O,C,kh,kw], 2 strides, 2 paddings; got \(x.shape), \(weight.shape)")
        }
        let y = try conv3d(x.unsqueezed(2), weight: weight.unsqueezed(2), bias: bias,
                           stride: [1] + stride, padding: [.none] + padding)
        return try y.squeezed(2)
    }

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        try requireHost(x, "conv3d")
        try requireHost(weight, "conv3d")
        guard x.rank == 5, weight.rank == 5, stride.count == 3, padding.count == 3, stride.allSatisfy({ $0 >= 1 }) else {
            throw TensorError.invalidArgument("conv3d needs x [B,C,T,H,W], weight [O,C,kt,kh,kw], 3 strides ≥ 1, 3 paddings; got \(x.shape), \(weight.shape), \(stride)")
        }
        let (nb, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
        guard weight.shape[1] == c else {
            throw TensorError.shapeMismatch("conv3d weight \(weight.shape) expects \(weight.shape[1]) input channels, x has \(c) (\(x.shape))")
        }
        let inSize = [t, h, w], kSize = [kt, kh, kw]
        var outSize = [Int]()
        for d in 0..<3 {
            let span = inSize[d] + padding[d].before + padding[d].after - kSize[d]
            guard span >= 0 else {
                throw TensorError.shapeMismatch("conv3d kernel \(kSize) larger than padded input \(inSize) in dim \(d)")
            }
            outSize.append(span / stride[d] + 1)
        }
        let (to, ho, wo) = (outSize[0], outSize[1], outSize[2])
        let plane = to * ho * wo, kdim = c * kt * kh * kw
        var biasValues: [Float]?
        if let bias {
            guard bias.count == o else { throw TensorError.shapeMismatch("conv3d bias \(bias.shape) for \(o) output channels") }
            biasValues = try bias.floats()
        }
        let wc = weight.isContiguous && Self.gemmTypes.contains(weight.dtype) ? weight : try contiguous(weight, dtype: .f32)
        let wOp = MatrixOperand(base: UnsafeRawPointer(wc.rawBase) + wc.offset * wc.dtype.byteSize, dtype: wc.dtype,
                                rowStride: kdim, colStride: 1)
        let xs = try DenseF32(x)
        let xp = xs.pointer
        let out = try empty([nb, o, to, ho, wo], dtype: .f32)
        let op = out.mutableFloats
        let pointwise = kdim == c && stride == [1, 1, 1] && padding.allSatisfy({ $0 == .none })

        for n in 0..<nb {
            let xb = xp + n * c * t * h * w
            let ob = op + n * o * plane
            if pointwise {
                let bOp = MatrixOperand(base: UnsafeRawPointer(xb), dtype: .f32, rowStride: plane, colStride: 1)
                CPUGemm.multiply(m: o, n: plane, k: kdim, a: wOp, b: bOp, c: ob, ldc: plane, accumulate: false)
                continue
            }
            let chunk = max(1, min(plane, Self.im2colBudgetElements / max(kdim, 1)))
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * chunk)
            defer { cols.deallocate() }
            var p0 = 0
            while p0 < plane {
                let nc = min(chunk, plane - p0)
                // cols[kIndex][j]: input value seen by kernel tap kIndex at output position p0 + j.
                Parallel.forEach(kdim) { kIndex in
                    let ci = kIndex / (kt * kh * kw)
                    var rem = kIndex % (kt * kh * kw)
                    let dt = rem / (kh * kw); rem %= kh * kw
                    let dh = rem / kw, dw = rem % kw
                    let src = xb + ci * t * h * w
                    let row = cols + kIndex * nc
                    var p = p0
                    var oz = p / (ho * wo), oy = (p / wo) % ho, ox = p % wo
                    for j in 0..<nc {
                        let iz = oz * stride[0] - padding[0].before + dt
                        let iy = oy * stride[1] - padding[1].before + dh
                        let ix = ox * stride[2] - padding[2].before + dw
                        row[j] = (iz >= 0 && iz < t && iy >= 0 && iy < h && ix >= 0 && ix < w) ? src[(iz * h + iy) * w + ix] : 0
                        p += 1
                        ox += 1
                        if ox == wo { ox = 0; oy += 1; if oy == ho { oy = 0; oz += 1 } }
                    }
                }
                let bOp = MatrixOperand(base: UnsafeRawPointer(cols), dtype: .f32, rowStride: nc, colStride: 1)
                CPUGemm.multiply(m: o, n: nc, k: kdim, a: wOp, b: bOp, c: ob + p0, ldc: plane, accumulate: false)
                p0 += nc
            }
        }
        if let biasValues {
            Parallel.forEach(nb * o) { r in
                let bv = biasValues[r % o], row = op + r * plane
                for i in 0..<plane { row[i] += bv }
            }
        }
        return x.dtype == .f32 ? out : try contiguous(out, dtype: x.dtype)
    }
}
