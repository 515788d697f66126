import CCUDA
import TensorCore

/// Convolutions as GEMMs and the VAE's fused norm + SiLU (kernels in Kernels/conv.cu). The engine
/// decides first: `.cudnn` (the default) sends bf16/f16 convolutions to cuDNN
/// (`CUDABackend+Cudnn.swift`), what it does not take runs as our implicit GEMM
/// (`CUDABackend+ImplicitConvolution.swift`, also the whole of `.implicit`); the im2col GEMM path
/// below runs everything else.
///
/// conv3d of one batch item is out[o, p] = W[o, k] · col[k, p] with M = O, N = T'·H'·W' output
/// positions and K = C·kt·kh·kw. Output positions are processed in chunks: `td_im2col` gathers a
/// chunk's columns into a workspace (the operand type), cuBLASLt multiplies (fp32 compute, never
/// TF32) and writes straight into the output rows (ld = positions) or, when the result needs a
/// bias and a rounding other than f32, into an f32 chunk that `td_conv_epilogue` adds the bias
/// to and rounds once. 1×1×1 kernels without stride or padding read a dense x as the B matrix.
extension CUDABackend: VAEBackend {
    /// Bytes of im2col (and f32 result) workspace per chunk of output positions in `conv3d`.
    public static let convolutionWorkspaceBytes = 256 << 20

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        guard x.rank == 4, weight.rank == 4, stride.count == 2, padding.count == 2 else {
            throw TensorError.invalidArgument("conv2d needs x [B,C,H,W], weight [O,C,kh,kw], 2 strides, 2 paddings; got \(x.shape), \(weight.shape)")
        }
        let y = try conv3d(x.unsqueezed(2), weight: weight.unsqueezed(2), bias: bias,
                           stride: [1] + stride, padding: [.none] + padding)
        return try y.squeezed(2)
    }

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        try convolve3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: x.dtype,
                       workspaceBytes: Self.convolutionWorkspaceBytes, useEngine: true)
    }

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType) throws -> Tensor {
        try convolve3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType,
                       workspaceBytes: Self.convolutionWorkspaceBytes, useEngine: true)
    }

    /// Parts of one 16-bit type go straight into the channels-last operand of cuDNN or the implicit
    /// GEMM (`channelsLastOperand`), so the concatenation is never made; anything else runs the
    /// composition (concat + conv3d).
    public func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                       outputType: DType) throws -> Tensor {
        guard parts.count > 1, let plan = try partsConvolution(parts, weight: weight, bias: bias, stride: stride, padding: padding,
                                                               outputType: outputType) else {
            return try concatenatedConv3d(parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType)
        }
        let out = try empty([plan.geometry.batch, plan.geometry.outChannels] + plan.geometry.output, dtype: outputType)
        if try cudnnConv3d(parts, weight: weight, bias: plan.bias, geometry: plan.geometry, stride: stride, padding: padding, out: out) {
            return out
        }
        try implicitConv3d(parts, weight: weight, bias: plan.bias, geometry: plan.geometry, stride: stride, padding: padding, out: out)
        return out
    }

    /// The geometry and f32 bias address of a convolution over `parts` (one or more, along time) when
    /// our channels-last engines take it; nil sends the caller to the composition.
    private func partsConvolution(_ parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                                  outputType: DType) throws -> (geometry: ConvolutionGeometry, bias: UInt64)? {
        guard let first = parts.first, convolutionEngine != .im2col, first.rank == 5,
              parts.allSatisfy({ $0.dtype == first.dtype && $0.rank == 5 && $0.shape[0] == first.shape[0]
                                 && $0.shape[1] == first.shape[1] && $0.shape[3...] == first.shape[3...] }),
              Self.cudaDataType(outputType) != nil else { return nil }
        for part in parts { _ = try deviceBuffer(part, "conv3d") }
        _ = try deviceBuffer(weight, "conv3d")
        try activate()
        var xShape = first.shape
        xShape[2] = parts.reduce(0) { $0 + $1.shape[2] }
        var g = try ConvolutionGeometry(xShape: xShape, weight: weight, stride: stride, padding: padding)
        try g.resolve()
        guard g.taps > 0, g.batch * g.outChannels * g.plane > 0,
              implicitConvolutionApplies(dtype: first.dtype, weight: weight, geometry: g, pointwiseDense: false) else { return nil }
        if let bias {
            _ = try deviceBuffer(bias, "conv3d bias")
            guard bias.count == g.outChannels else { throw TensorError.shapeMismatch("conv3d bias \(bias.shape) for \(g.outChannels) output channels") }
        }
        let biasF32 = try bias.map { $0.dtype == .f32 && $0.isContiguous ? $0 : try contiguous($0, dtype: .f32) }
        return (g, try biasF32.map { try address($0) } ?? 0)
    }

    /// `conv3d` on the im2col path (neither cuDNN nor the implicit GEMM is tried) with the per-chunk workspace bounded by
    /// `workspaceBytes` (tests force many small, unaligned chunks with a tiny bound).
    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType,
                       workspaceBytes: Int) throws -> Tensor {
        try convolve3d(x, weight: weight, bias: bias, stride: stride, padding: padding, outputType: outputType,
                       workspaceBytes: workspaceBytes, useEngine: false)
    }

    /// x and weight of different float types are both multiplied in f32 (as the CPU widens
    /// both); equal types multiply in their own type.
    private func convolve3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding], outputType: DType,
                            workspaceBytes: Int, useEngine: Bool) throws -> Tensor {
        let xBuffer = try deviceBuffer(x, "conv3d")
        _ = try deviceBuffer(weight, "conv3d")
        try activate()
        var g = try ConvolutionGeometry(x: x, weight: weight, stride: stride, padding: padding)
        guard Self.cudaDataType(x.dtype) != nil, Self.cudaDataType(weight.dtype) != nil, Self.cudaDataType(outputType) != nil else {
            throw TensorError.unsupported("conv3d of \(x.dtype) x and \(weight.dtype) weight to \(outputType) on CUDA (f32, bf16, f16)")
        }
        try g.resolve()
        let (nb, c, o) = (g.batch, g.inChannels, g.outChannels)
        let (t, h, w) = (g.input[0], g.input[1], g.input[2]), (kt, kh, kw) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let (to, ho, wo) = (g.output[0], g.output[1], g.output[2])
        let plane = g.plane, kdim = g.taps
        if let bias {
            _ = try deviceBuffer(bias, "conv3d bias")
            guard bias.count == o else { throw TensorError.shapeMismatch("conv3d bias \(bias.shape) for \(o) output channels") }
        }
        let out = try empty([nb, o, to, ho, wo], dtype: outputType)
        guard out.count > 0 else { return out }
        let outCode = try floatCode(outputType, "conv3d")
        let biasF32 = try bias.map { $0.dtype == .f32 && $0.isContiguous ? $0 : try contiguous($0, dtype: .f32) }
        let biasAddress = try biasF32.map { try address($0) } ?? 0
        guard kdim > 0 else {
            // No input channels: the bias alone (or zeros).
            try convEpilogue(out: try address(out), outCode: outCode, outLD: plane, source: 0, sourceLD: 0,
                             bias: biasAddress, channels: o, rows: nb * o, cols: plane)
            return out
        }
        guard o <= Int(Int32.max), kdim <= Int(Int32.max), [c, t, h, w, kt, kh, kw, ho, wo].allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw TensorError.unsupported("conv3d of \(x.shape) with weight \(weight.shape) exceeds the 32-bit sizes of the CUDA path")
        }

        let inputType: DType = x.dtype == weight.dtype ? x.dtype : .f32
        // The weight as a dense, 16-byte aligned [O, K] matrix in the GEMM type (weights are small).
        let wAligned = try address(weight) % 16 == 0
        let wReady = weight.isContiguous && weight.dtype == inputType && wAligned
        let wMatrix = wReady ? weight : try contiguous(weight, dtype: inputType)
        let pointwise = g.kernel == [1, 1, 1] && stride == [1, 1, 1] && padding.allSatisfy({ $0 == .none })
            && x.isContiguous && x.dtype == inputType
        if useEngine, !pointwise, try cudnnConv3d([x], weight: weight, bias: biasAddress, geometry: g, stride: stride,
                                                  padding: padding, out: out) {
            return out
        }
        if useEngine, implicitConvolutionApplies(x: x, weight: weight, geometry: g, pointwiseDense: pointwise) {
            try implicitConv3d([x], weight: weight, bias: biasAddress, geometry: g, stride: stride, padding: padding, out: out)
            return out
        }
        // GEMM straight into the output unless a bias must be added before a rounding below f32.
        let direct = outputType == .f32 || (bias == nil && outputType == inputType)
        let perPosition = (pointwise ? 0 : kdim * inputType.byteSize) + (direct ? 0 : o * 4)
        var chunk = min(plane, Int(Int32.max) / 2, perPosition == 0 ? plane : max(1, workspaceBytes / perPosition))
        if chunk < plane && chunk >= 256 { chunk -= chunk % 256 }
        let col = pointwise ? nil : try empty([kdim * chunk], dtype: inputType)
        let partial = direct ? nil : try empty([o * chunk], dtype: .f32)
        let inCode = try floatCode(inputType, "conv3d"), xCode = try floatCode(x.dtype, "conv3d")
        let kPerBlock = max(16, (kdim + 65534) / 65535)
        var algorithms: [ConvolutionGemmKey: cublasLtMatmulAlgo_t] = [:]
        convolution.lock.withLock { convolution.im2colRuns += 1 }

        for n in 0..<nb {
            for p0 in Swift.stride(from: 0, to: plane, by: chunk) {
                let nc = min(chunk, plane - p0)
                let bAddress: UInt64, ldb: Int
                if let col {
                    try launch(.conv, "td_im2col", grid: ((nc + 255) / 256, (kdim + kPerBlock - 1) / kPerBlock, 1),
                               block: (256, 1, 1), [
                        .pointer(try address(col)), .int32(inCode), .pointer(xBuffer.address), .int32(xCode),
                        .int64(Int64(x.offset + n * x.strides[0])),
                        .int64(Int64(x.strides[1])), .int64(Int64(x.strides[2])), .int64(Int64(x.strides[3])), .int64(Int64(x.strides[4])),
                        .int32(Int32(t)), .int32(Int32(h)), .int32(Int32(w)), .int32(Int32(kt)), .int32(Int32(kh)), .int32(Int32(kw)),
                        .int32(Int32(stride[0])), .int32(Int32(stride[1])), .int32(Int32(stride[2])),
                        .int32(Int32(padding[0].before)), .int32(Int32(padding[1].before)), .int32(Int32(padding[2].before)),
                        .int32(Int32(ho)), .int32(Int32(wo)), .int64(Int64(p0)), .int64(Int64(nc)), .int64(Int64(kdim)),
                        .int32(Int32(kPerBlock)),
                    ])
                    bAddress = try address(col)
                    ldb = nc
                } else {
                    bAddress = try address(x, element: n * c * plane + p0)
                    ldb = plane
                }
                let outRegion = try address(out, element: n * o * plane + p0)
                if let partial {
                    let partialAddress = try address(partial)
                    try convolutionGemm(m: o, n: nc, k: kdim, a: try address(wMatrix), lda: kdim, b: bAddress, ldb: ldb,
                                        d: partialAddress, ldd: nc, inputType: inputType, outputType: .f32, algorithms: &algorithms)
                    try convEpilogue(out: outRegion, outCode: outCode, outLD: plane, source: partialAddress, sourceLD: nc,
                                     bias: biasAddress, channels: o, rows: o, cols: nc)
                } else {
                    try convolutionGemm(m: o, n: nc, k: kdim, a: try address(wMatrix), lda: kdim, b: bAddress, ldb: ldb,
                                        d: outRegion, ldd: plane, inputType: inputType, outputType: outputType, algorithms: &algorithms)
                }
            }
        }
        if direct && biasF32 != nil {
            // f32 output: the bias is added in place (one f32 rounding, as the CPU's accumulator).
            let base = try address(out)
            try convEpilogue(out: base, outCode: outCode, outLD: plane, source: base, sourceLD: plane,
                             bias: biasAddress, channels: o, rows: nb * o, cols: plane)
        }
        return out
    }

    /// td_conv_epilogue over `rows` × `cols` (addresses of the first element, 0 for none):
    /// out[r, j] = source[r, j] + bias[r mod channels], one rounding to the output type.
    func convEpilogue(out: UInt64, outCode: Int32, outLD: Int, source: UInt64, sourceLD: Int,
                              bias: UInt64, channels: Int, rows: Int, cols: Int) throws {
        guard rows > 0, cols > 0 else { return }
        try launch(.conv, "td_conv_epilogue", grid: (min((cols + 255) / 256, 1 << 20), min(rows, 65535), 1), block: (256, 1, 1), [
            .pointer(out), .int32(outCode), .int64(Int64(outLD)), .pointer(source), .int64(Int64(sourceLD)),
            .pointer(bias), .int64(Int64(max(channels, 1))), .int64(Int64(rows)), .int64(Int64(cols)),
        ])
    }

    // MARK: VAE norm

    /// Channel counts `td_l2norm_silu_tiled` stages in shared memory (16 positions × C floats).
    static let l2NormTiledMaxChannels = 384

    public func l2NormSiLU(_ x: Tensor, gamma: Tensor, bias: Tensor?, eps: Float, outputType: DType) throws -> Tensor {
        _ = try deviceBuffer(x, "l2NormSiLU")
        try activate()
        guard x.rank >= 1, x.dtype.isFloatingPoint, outputType.isFloatingPoint else {
            throw TensorError.invalidArgument("l2NormSiLU needs a float tensor [C, ...] and a float output type, got \(x.dtype)\(x.shape) -> \(outputType)")
        }
        let inCode = try floatCode(x.dtype, "l2NormSiLU"), outCode = try floatCode(outputType, "l2NormSiLU output")
        let c = x.shape[0]
        let g = try channelVector(gamma, count: c, "l2NormSiLU gamma")
        let b = try bias.map { try channelVector($0, count: c, "l2NormSiLU bias") }
        let out = try empty(x.shape, dtype: outputType)
        let inner = c == 0 ? 0 : x.count / c
        guard inner > 0 else { return out }
        guard c <= Int(Int32.max) else { throw TensorError.unsupported("l2NormSiLU over \(c) channels on CUDA") }
        let src = x.isContiguous ? x : try contiguous(x)
        let tiled = c <= Self.l2NormTiledMaxChannels && (inner + 15) / 16 <= Int(Int32.max)
        let (grid, block) = tiled ? ((inner + 15) / 16, 256) : elementwiseGrid(inner)
        try launch(.conv, tiled ? "td_l2norm_silu_tiled" : "td_l2norm_silu", grid: grid, block: block, [
            .pointer(try address(out)), .int32(outCode), .pointer(try address(src)), .int32(inCode),
            .pointer(try address(g)), .pointer(try b.map { try address($0) } ?? 0), .int32(Int32(c)), .int64(Int64(inner)),
            .float(eps), .float(Float(c).squareRoot()),
        ])
        return out
    }

    // MARK: Frames

    public func videoBytes(_ video: Tensor) throws -> Tensor {
        _ = try deviceBuffer(video, "videoBytes")
        try activate()
        guard video.rank == 4, video.shape[0] == 3, video.dtype.isFloatingPoint else {
            throw TensorError.invalidArgument("videoBytes needs a float video [3, F, H, W], got \(video.dtype)\(video.shape)")
        }
        let code = try floatCode(video.dtype, "videoBytes")
        let out = try empty([video.shape[1], video.shape[2], video.shape[3], 3], dtype: .u8)
        let plane = video.count / 3
        guard plane > 0 else { return out }
        let src = video.isContiguous ? video : try contiguous(video)
        let (grid, block) = elementwiseGrid(plane)
        try launch(.conv, "td_video_bytes", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(try address(src)), .int32(code), .int64(Int64(plane)),
        ])
        return out
    }

    /// A per-channel parameter (C elements, shaped [C], [C,1,1,1], [1,C]…) as a dense f32 vector on
    /// this device; the shape rule is the CPU backend's.
    private func channelVector(_ t: Tensor, count: Int, _ what: String) throws -> Tensor {
        _ = try deviceBuffer(t, what)
        guard t.count == count, t.shape.first(where: { $0 != 1 }) ?? 1 == count || count == 1 else {
            throw TensorError.shapeMismatch("\(what) has shape \(t.shape), expected \(count) channels")
        }
        return t.dtype == .f32 && t.isContiguous ? t : try contiguous(t, dtype: .f32)
    }

    // MARK: GEMM on raw operands

    /// Row-major D[m, n] (row stride ldd) = A[m, k] (row stride lda) · B[k, n] (row stride ldb)
    /// with cuBLASLt on device addresses: fp32 compute (CUBLAS_COMPUTE_32F, never TF32), A and B
    /// in `inputType`, D in `outputType` (f32 or `inputType`). As in `matmul`, the row-major
    /// product is the column-major Dᵀ = Bᵀ·Aᵀ. The heuristic is told the real pointer alignments;
    /// its choice is kept in `algorithms` for the other chunks of one convolution.
    func convolutionGemm(m: Int, n: Int, k: Int, a: UInt64, lda: Int, b: UInt64, ldb: Int, d: UInt64, ldd: Int,
                         inputType: DType, outputType: DType,
                         algorithms: inout [ConvolutionGemmKey: cublasLtMatmulAlgo_t]) throws {
        guard m > 0, n > 0, k > 0 else { return }
        guard m <= Int(Int32.max), n <= Int(Int32.max), k <= Int(Int32.max),
              let inCode = Self.cudaDataType(inputType), let outCode = Self.cudaDataType(outputType) else {
            throw TensorError.unsupported("convolution GEMM \(inputType) \(m)×\(k)·\(k)×\(n) → \(outputType) on CUDA")
        }
        let lt = try CublasLtLibrary.shared.get()
        let api = lt.api
        let alignments = [b, a, d].map(GemmState.alignment)
        let key = ConvolutionGemmKey(n: n, ldb: ldb, ldd: ldd, alignments: alignments)
        try gemm.lock.withLock {
            let (handle, workspace) = try gemm.resources(lt, allocator: allocator) { try self.synchronize() }

            var desc: cublasLtMatmulDesc_t?
            try lt.check(api.cublasLtMatmulDescCreate(&desc, Int32(CCUBLAS_COMPUTE_32F), Int32(CCUDA_R_32F)), "cublasLtMatmulDescCreate")
            defer { _ = api.cublasLtMatmulDescDestroy(desc) }
            var opN = Int32(CCUBLAS_OP_N)
            try lt.check(api.cublasLtMatmulDescSetAttribute(desc, Int32(CCUBLASLT_MATMUL_DESC_TRANSA), &opN, 4),
                         "cublasLtMatmulDescSetAttribute(TRANSA)")
            try lt.check(api.cublasLtMatmulDescSetAttribute(desc, Int32(CCUBLASLT_MATMUL_DESC_TRANSB), &opN, 4),
                         "cublasLtMatmulDescSetAttribute(TRANSB)")
            func layout(_ type: Int32, rows: Int, cols: Int, ld: Int) throws -> cublasLtMatrixLayout_t? {
                var l: cublasLtMatrixLayout_t?
                try lt.check(api.cublasLtMatrixLayoutCreate(&l, type, UInt64(rows), UInt64(cols), Int64(ld)), "cublasLtMatrixLayoutCreate")
                return l
            }
            // Column-major views: cuBLAS A = our B (n×k, ld ldb), cuBLAS B = our A (k×m, ld lda), D n×m (ld ldd).
            let layoutA = try layout(inCode, rows: n, cols: k, ld: ldb)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutA) }
            let layoutB = try layout(inCode, rows: k, cols: m, ld: lda)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutB) }
            let layoutD = try layout(outCode, rows: n, cols: m, ld: ldd)
            defer { _ = api.cublasLtMatrixLayoutDestroy(layoutD) }

            var algorithm: cublasLtMatmulAlgo_t
            if let cached = algorithms[key] {
                algorithm = cached
            } else {
                guard let chosen = try GemmState.heuristic(lt, handle: handle, desc: desc, a: layoutA, b: layoutB, d: layoutD,
                                                           alignments: alignments) else {
                    throw TensorError.unsupported("cuBLASLt has no algorithm for the convolution GEMM \(inputType) \(m)×\(k)·\(k)×\(n) → \(outputType) (ld \(ldb), \(ldd))")
                }
                algorithm = chosen
                algorithms[key] = algorithm
            }
            var alpha: Float = 1, beta: Float = 0
            let status = api.cublasLtMatmul(handle, desc, &alpha,
                                            UnsafeRawPointer(bitPattern: UInt(b)), layoutA,
                                            UnsafeRawPointer(bitPattern: UInt(a)), layoutB, &beta,
                                            UnsafeRawPointer(bitPattern: UInt(d)), layoutD,
                                            UnsafeMutableRawPointer(bitPattern: UInt(d)), layoutD,
                                            &algorithm, UnsafeMutableRawPointer(bitPattern: UInt(workspace.address)),
                                            GemmState.workspaceBytes, stream)
            try lt.check(status, "cublasLtMatmul(convolution \(inputType) \(m)×\(k)·\(k)×\(n) → \(outputType))")
        }
    }
}

/// What a convolution GEMM's algorithm choice depends on besides the fixed m, k and types.
struct ConvolutionGemmKey: Hashable {
    var n: Int
    var ldb: Int
    var ldd: Int
    /// Pointer alignments (bytes, at most 256) of cuBLAS operands A (our B), B (our A) and D.
    var alignments: [UInt32]
}

extension CUDABackend: ResidualConvolutionBackend {
    /// On cuDNN the residual is added by the transposing epilogue (one pass less over the f32
    /// result); every other path runs the composition.
    public func conv3d(concatenating parts: [Tensor], weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding],
                       adding residual: Tensor) throws -> Tensor {
        guard residual.dtype == .f32, residual.isContiguous,
              let plan = try partsConvolution(parts, weight: weight, bias: bias, stride: stride, padding: padding, outputType: .f32)
        else { return try residualConv3d(parts, weight: weight, bias: bias, stride: stride, padding: padding, adding: residual) }
        let shape = [plan.geometry.batch, plan.geometry.outChannels] + plan.geometry.output
        guard residual.shape == shape else {
            throw TensorError.shapeMismatch("conv3d residual \(residual.shape) for a result of \(shape)")
        }
        _ = try deviceBuffer(residual, "conv3d residual")
        let out = try empty(shape, dtype: .f32)
        if try cudnnConv3d(parts, weight: weight, bias: plan.bias, geometry: plan.geometry, stride: stride, padding: padding,
                           residual: try address(residual), out: out) {
            return out
        }
        try implicitConv3d(parts, weight: weight, bias: plan.bias, geometry: plan.geometry, stride: stride, padding: padding, out: out)
        return try add(out, residual)
    }
}
