import TensorCore

/// W8A8 matrix product (Kernels/quantized_matmul.cu, quantized_matmul_wgmma.cu), bit-identical to the CPU's: activations are
/// quantised on the device per 128 × 128 block exactly as `BlockQuantization.quantize` does, the int32
/// partial sums are exact whatever the hardware order, and the fp32 combination
/// `fma(float(partial), sx·sw, acc)` runs over the K blocks in ascending order (the block scale
/// rounded once, one fused multiply-add per block, as upstream's int8 GEMM epilogue), then `+ bias`
/// and one rounding to the output type.
///
/// Product kernels, chosen by shape and device:
/// - `td_w8a8_gemm_wgmma192` (compute capability 9.0 with
///   `w8a8Wgmma192SharedBytes` of shared memory, more than `fewRows` rows): 192 × 128 output tiles on
///   three consumer warpgroups fed by bulk copies of operands laid out as swizzled 128 × 128 tiles: x
///   quantised straight into them (`td_w8a8_quantize_block`'s `tiled`), the weight tiled per call by
///   `td_w8a8_tile` (N·K bytes, about 1 % of the product's time); 17–18 % faster than the 128-row kernel
///   on every DiT shape in scripts/cuda/bench_w8a8.py;
/// - `td_w8a8_gemm_wgmma` (compute capability 9.0 below the 192-row kernel's shared memory; compiled
///   for sm_90a):
///   the same 128 × 128 tiles on `wgmma.m64n128k32.s32.s8.s8`, two consumer warpgroups and a cp.async
///   producer warpgroup over a 4-stage mbarrier pipeline, the sums stored through the stages; GELU in
///   its epilogue for `quantizedMatmulGELU`;
/// - `td_w8a8_gemm_pipe` (sm_80+, more than `fewRows` rows, `w8a8PipeSharedBytes` of shared memory):
///   int8 tensor cores through `mma.sync.m16n8k32.s32.s8.s8.s32`, 128 × 128 output tiles aligned with
///   the scale blocks, K blocks streamed by a 4-stage cp.async pipeline into swizzled tiles read with
///   ldmatrix;
/// - `td_w8a8_gemm_mma`: the same tiles staged synchronously, one K block at a time (36 KiB of static
///   shared memory), for devices whose opt-in shared memory is below the pipeline's;
/// - `td_w8a8_gemm_dp4a` (few rows, or older GPUs): one warp per output column, `dp4a` over each
///   128-byte K block and an exact warp sum. All are exact in int32, so they agree bit for bit.
/// Activations are quantised by `td_w8a8_quantize_block` (one read of x, 16-byte loads for bf16/f16).
extension CUDABackend: QuantizedMatmulBackend, QuantizedMatmulGELUBackend, SharedInputQuantizedMatmulBackend {
    /// Row counts up to this use the dp4a kernel (a 128-row tensor-core tile would be mostly empty).
    static let w8a8FewRows = 16
    /// Dynamic shared memory of `td_w8a8_gemm_pipe`: QP_STAGES (4) stages of two 128 × 128-byte tiles.
    static let w8a8PipeSharedBytes = 4 * 2 * 128 * 128
    /// Dynamic shared memory of `td_w8a8_gemm_wgmma`: 1024 bytes of alignment slack, QW_STAGES (4)
    /// stages of two tiles, then a full and an empty mbarrier per stage.
    static let w8a8WgmmaSharedBytes = 1024 + 4 * 2 * 128 * 128 + 16 * 4
    /// Dynamic shared memory of `td_w8a8_gemm_wgmma192`: 1024 bytes of alignment slack, QW_STAGES (4)
    /// stages of a 192-row x tile and a 128-row weight tile, then the mbarriers.
    static let w8a8Wgmma192SharedBytes = 1024 + 4 * (192 + 128) * 128 + 16 * 4

    public func quantizedMatmul(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        var activations: W8A8Activations?
        return try w8a8(x, QuantizedProduct(weight: weight, scales: scales, bias: bias), outputType: outputType,
                        epilogue: .store, activations: &activations)!
    }

    /// x quantised once (the first product's `td_w8a8_quantize_block`), then one GEMM per product.
    public func quantizedMatmuls(_ x: Tensor, _ products: [QuantizedProduct], outputType: DType) throws -> [Tensor] {
        var activations: W8A8Activations?
        return try products.map { p in
            try w8a8(x, p, outputType: outputType, epilogue: .store, activations: &activations)!
        }
    }

    /// GELU(tanh) in the Hopper kernels' epilogue (`QM_GELU`: each value rounded to `outputType`, then
    /// GELU with the elementwise op's `gelu_tanh`, so the composition's values exactly); on the other
    /// kernels the composition.
    public func quantizedMatmulGELU(_ x: Tensor, weight: Tensor, scales: Tensor, bias: Tensor?, outputType: DType) throws -> Tensor {
        var activations: W8A8Activations?
        if let fused = try w8a8(x, QuantizedProduct(weight: weight, scales: scales, bias: bias), outputType: outputType,
                                epilogue: .gelu, activations: &activations) { return fused }
        return try composedQuantizedMatmulGELU(x, weight: weight, scales: scales, bias: bias, outputType: outputType)
    }

    /// x quantised per 128 × 128 block: xq [m, kp] i8 (rows padded to 16 bytes), or with `tiled` the
    /// [mb · kb · 128 · 128] swizzled tiles of td_w8a8_tile's layout; sx [mb, kb] f32.
    struct W8A8Activations {
        var xq: Tensor
        var sx: Tensor
        var tiled: Bool
    }

    /// Which product kernel a W8A8 product of `rows` rows runs here.
    enum W8A8Kernel {
        case wgmma192, wgmma, pipe, mma, dp4a

        /// Whether its x and weight are read as swizzled 128 × 128 tiles.
        var tiled: Bool { self == .wgmma192 }
    }

    func w8a8Kernel(rows m: Int) -> W8A8Kernel {
        guard computeCapability.major >= 8 && m > Self.w8a8FewRows else { return .dp4a }
        if computeCapability == (9, 0) && maxSharedMemoryPerBlock >= Self.w8a8Wgmma192SharedBytes {
            return .wgmma192
        }
        if computeCapability == (9, 0) && maxSharedMemoryPerBlock >= Self.w8a8WgmmaSharedBytes { return .wgmma }
        return maxSharedMemoryPerBlock >= Self.w8a8PipeSharedBytes ? .pipe : .mma
    }

    /// What the GEMM's epilogue makes of the products (the output code's flags in quantized_matmul_wgmma.cu).
    enum W8A8Epilogue {
        /// The product (+ bias) rounded to the output type.
        case store
        /// GELU(tanh) of each stored value (`QM_GELU`; Hopper kernels only).
        case gelu

        var flags: Int32 { self == .store ? 0 : 0x100 }
    }

    /// The W8A8 product with `epilogue`; nil (nothing launched) for `.gelu` when the kernel the shape
    /// and device take has no such epilogue. `activations`: x's quantisation when a product of the
    /// same x made it, else nil, and then set to the one made here.
    private func w8a8(_ x: Tensor, _ product: QuantizedProduct, outputType: DType, epilogue: W8A8Epilogue,
                      activations: inout W8A8Activations?) throws -> Tensor? {
        let (weight, scales, bias) = (product.weight, product.scales, product.bias)
        let op = epilogue == .store ? "quantizedMatmul" : "quantizedMatmulGELU"
        for t in [x, weight, scales] + (bias.map { [$0] } ?? []) { _ = try deviceBuffer(t, op) }
        try activate()
        let blk = BlockQuantization.block
        guard x.rank >= 1, weight.rank == 2, weight.dtype == .i8, x.shape.last == weight.shape[1] else {
            throw TensorError.shapeMismatch("W8A8 matmul x \(x.dtype)\(x.shape) · weight \(weight.dtype)\(weight.shape): expected i8 [N, K] with K = x's last dim")
        }
        let (n, k) = (weight.shape[0], weight.shape[1])
        let kb = (k + blk - 1) / blk
        guard scales.shape == [(n + blk - 1) / blk, kb] else {
            throw TensorError.shapeMismatch("W8A8 scales \(scales.shape), expected [\((n + blk - 1) / blk), \(kb)] for weight \(weight.shape)")
        }
        if let bias, bias.count != n { throw TensorError.shapeMismatch("W8A8 bias \(bias.shape) for \(n) outputs") }
        let xCode = try floatCode(x.dtype, op), outCode = try floatCode(outputType, op)
        let m = x.shape.dropLast().reduce(1, *)
        let kernel = w8a8Kernel(rows: m)
        if epilogue != .store && kernel != .wgmma192 && kernel != .wgmma { return nil }
        let out = try empty(Array(x.shape.dropLast()) + [n], dtype: outputType)
        guard n > 0, out.count > 0 else { return out }
        let mb = (m + blk - 1) / blk
        guard mb <= 65535 else { throw TensorError.unsupported("W8A8 matmul on CUDA with \(m) rows (at most \(65535 * blk))") }

        // Operands: x dense; scales f32; bias dense; weight rows 16-byte aligned with zero padding to kp.
        let kp = (k + 15) / 16 * 16
        let sw = scales.dtype == .f32 && scales.isContiguous ? scales : try contiguous(scales, dtype: .f32)
        var biasArguments: [KernelArgument] = [.pointer(0), .int32(0)]
        if let bias {
            let b = bias.isContiguous ? bias : try contiguous(bias)
            biasArguments = [.pointer(try address(b)), .int32(try floatCode(b.dtype, "\(op) bias"))]
        }
        var w = weight.isContiguous ? weight : try contiguous(weight)
        let aligned16 = try address(w) % 16 == 0
        if kp != k || !aligned16 {
            let padded = try empty([n, kp], dtype: .i8)
            let (grid, block) = elementwiseGrid(n * kp)
            try launch(.quantizedMatmul, "td_w8a8_pad_weight", grid: grid, block: block, [
                .pointer(try address(padded)), .pointer(try address(w)), .int64(Int64(n)), .int64(Int64(k)), .int64(Int64(kp)),
            ])
            w = padded
        }

        let tileBytes = blk * blk
        if activations == nil {
            let xd = x.isContiguous ? x : try contiguous(x)
            let xq = try empty(kernel.tiled ? [mb * kb * tileBytes] : [m, kp], dtype: .i8), sx = try empty([mb, kb], dtype: .f32)
            if kb > 0 {
                try launch(.quantizedMatmul, "td_w8a8_quantize_block", grid: (kb, mb, 1), block: (256, 1, 1), [
                    .pointer(try address(xq)), .pointer(try address(sx)), .pointer(try address(xd)), .int32(xCode),
                    .int64(Int64(m)), .int64(Int64(k)), .int64(Int64(kp)), .int32(Int32(kb)), .int32(kernel.tiled ? 1 : 0),
                ])
            }
            activations = W8A8Activations(xq: xq, sx: sx, tiled: kernel.tiled)
        }
        let (xq, sx) = (activations!.xq, activations!.sx)
        let xqShape = kernel.tiled ? [mb * kb * tileBytes] : [m, kp]
        guard xq.shape == xqShape, sx.shape == [mb, kb], activations!.tiled == kernel.tiled else {
            throw TensorError.shapeMismatch("W8A8 products of one x: quantised as \(xq.shape), this product wants \(xqShape)")
        }
        if kernel.tiled {
            let nb = (n + blk - 1) / blk
            let tiles = try empty([nb * kb * tileBytes], dtype: .i8)
            if kb > 0 {
                try launch(.quantizedMatmul, "td_w8a8_tile", grid: (kb, nb, 1), block: (256, 1, 1), [
                    .pointer(try address(tiles)), .pointer(try address(w)), .int64(Int64(n)), .int64(Int64(kp)), .int32(Int32(kb)),
                ])
            }
            w = tiles
        }
        // QM_GELU (quantized_matmul_wgmma.cu) on the output code: GELU in the Hopper kernel's epilogue.
        let arguments: [KernelArgument] = [
            .pointer(try address(out)), .int32(outCode | epilogue.flags), .pointer(try address(xq)), .pointer(try address(sx)),
            .pointer(try address(w)), .pointer(try address(sw)),
        ] + biasArguments + [.int64(Int64(m)), .int64(Int64(n)), .int64(Int64(kp)), .int32(Int32(kb))]
        let grid = ((n + blk - 1) / blk, mb, 1)
        switch kernel {
        case .wgmma192:
            let grid192 = ((n + blk - 1) / blk, (m + 191) / 192, 1)
            try launch(.quantizedMatmul, "td_w8a8_gemm_wgmma192", grid: grid192, block: (512, 1, 1),
                       sharedBytes: Self.w8a8Wgmma192SharedBytes, arguments)
        case .wgmma:
            try launch(.quantizedMatmul, "td_w8a8_gemm_wgmma", grid: grid, block: (384, 1, 1), sharedBytes: Self.w8a8WgmmaSharedBytes, arguments)
        case .pipe:
            try launch(.quantizedMatmul, "td_w8a8_gemm_pipe", grid: grid, block: (256, 1, 1), sharedBytes: Self.w8a8PipeSharedBytes, arguments)
        case .mma:
            try launch(.quantizedMatmul, "td_w8a8_gemm_mma", grid: grid, block: (256, 1, 1), arguments)
        case .dp4a:
            let rowGroups = (m + 15) / 16
            guard rowGroups <= 65535 else {
                throw TensorError.unsupported("W8A8 matmul on CUDA sm_\(computeCapability.major)\(computeCapability.minor) with \(m) rows (at most \(65535 * 16))")
            }
            try launch(.quantizedMatmul, "td_w8a8_gemm_dp4a", grid: ((n + 7) / 8, rowGroups, 1), block: (256, 1, 1), arguments)
        }
        return out
    }
}
