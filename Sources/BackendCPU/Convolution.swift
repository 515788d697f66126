import TensorCore

extension CPUBackend {
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        guard x.rank == 4, weight.rank == 4, stride.count == 2, padding.count == 2 else {
            throw TensorError.invalidArgument("conv2d needs x [B,C,H,W], weight [O,C,kh,kw], 2 strides, 2 paddings; got \(x.shape), \(weight.shape)")
        }
        let y = try conv3d(x.unsqueezed(2), weight: weight.unsqueezed(2), bias: bias,
                           stride: [1] + stride, padding: [.none] + padding)
        return try y.squeezed(2)
    }

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        try conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: x.dtype)
    }

    /// Convolution as one GEMM per batch item: C[o, position] = W[o, tap] · B[tap, position] with
    /// B the (implicit) im2col of the input, gathered panel by panel while packing (no im2col
    /// matrix in memory). f32, bf16 and f16 inputs and weights are read as they are (widened in
    /// packing); the f32 accumulator is initialised with the bias. 1×1×1 kernels without stride or
    /// padding read the input directly as B.
    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType) throws -> Tensor {
        try requireHost(x, "conv3d")
        try requireHost(weight, "conv3d")
        var g = try ConvolutionGeometry(x: x, weight: weight, stride: stride, padding: padding)
        guard outputType.isFloatingPoint else { throw TensorError.unsupported("conv3d output \(outputType)") }
        try g.resolve()
        let (nb, c, o) = (g.batch, g.inChannels, g.outChannels)
        let (t, h, w) = (g.input[0], g.input[1], g.input[2]), (kt, kh, kw) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let (to, ho, wo) = (g.output[0], g.output[1], g.output[2])
        let plane = g.plane, kdim = g.taps
        var biasValues: [Float]?
        if let bias {
            guard bias.count == o else { throw TensorError.shapeMismatch("conv3d bias \(bias.shape) for \(o) output channels") }
            biasValues = try bias.floats()
        }
        let wc = weight.isContiguous && Self.gemmTypes.contains(weight.dtype) ? weight : try contiguous(weight, dtype: .f32)
        let wOp = MatrixOperand(base: UnsafeRawPointer(wc.rawBase) + wc.offset * wc.dtype.byteSize, dtype: wc.dtype,
                                rowStride: kdim, colStride: 1)
        let xc = x.isContiguous && Self.gemmTypes.contains(x.dtype) ? x : try contiguous(x, dtype: .f32)
        let xBase = UnsafeRawPointer(xc.rawBase) + xc.offset * xc.dtype.byteSize
        let out = try empty([nb, o, to, ho, wo], dtype: .f32)
        let op = out.mutableFloats
        if plane == 0 || nb == 0 || o == 0 { return outputType == .f32 ? out : try contiguous(out, dtype: outputType) }
        if let biasValues {
            Parallel.forEach(nb * o) { r in (op + r * plane).update(repeating: biasValues[r % o], count: plane) }
        }
        let pointwise = kt == 1 && kh == 1 && kw == 1 && stride == [1, 1, 1] && padding.allSatisfy({ $0 == .none })

        // Tap table: kIndex = ((ci·kt + dt)·kh + dh)·kw + dw, the weight's flattening.
        var taps = [ConvTap]()
        taps.reserveCapacity(pointwise ? 0 : kdim)
        if !pointwise {
            for ci in 0..<c { for dt in 0..<kt { for dh in 0..<kh { for dw in 0..<kw {
                taps.append(ConvTap(channelOffset: ci * t * h * w, dt: dt, dh: dh, dw: dw))
            } } } }
        }
        let elementSize = xc.dtype.byteSize
        taps.withUnsafeBufferPointer { tapBuffer in
            for n in 0..<nb {
                let xb = xBase + n * c * t * h * w * elementSize
                let ob = op + n * o * plane
                if pointwise {
                    let bOp = MatrixOperand(base: xb, dtype: xc.dtype, rowStride: plane, colStride: 1)
                    CPUGemm.multiply(m: o, n: plane, k: kdim, a: wOp, bSource: bOp, c: ob, ldc: plane,
                                     accumulate: biasValues != nil, threads: Parallel.threadCount)
                    continue
                }
                func run<E: GemmElement>(_: E.Type) {
                    let source = ConvBSource<E>(x: xb, t: t, h: h, w: w, outH: ho, outW: wo,
                                                stride: (stride[0], stride[1], stride[2]),
                                                pad: (padding[0].before, padding[1].before, padding[2].before),
                                                taps: tapBuffer.baseAddress!)
                    CPUGemm.multiply(m: o, n: plane, k: kdim, a: wOp, bSource: source, c: ob, ldc: plane,
                                     accumulate: biasValues != nil, threads: Parallel.threadCount)
                }
                switch xc.dtype {
                case .f32: run(GemmF32.self)
                case .bf16: run(GemmBF16.self)
                default: run(GemmF16.self)
                }
            }
        }
        return outputType == .f32 ? out : try contiguous(out, dtype: outputType)
    }
}
