import CCUDA
import TensorCore

/// conv3d as an implicit GEMM on tensor cores (Kernels/implicit_conv.cu, Kernels/hopper_conv.cu),
/// the default engine for bf16/f16 convolutions with a kernel larger than 1×1×1. Three launches per call:
///   td_conv_channels_last  x (any strided view) → [N, T, H, W, Cp], channels zero padded to Cp
///   td_conv_pack_weight    weight → [O, taps, Cp]
///   td_conv_wgmma_<t>_n<N> (Hopper, ≥ 96 output channels) or td_conv_igemm_<t>_m<MT>:
///                          out[n, o, p] = Σ wp[o, tap, c] · xcl[n, p + tap, c] + bias[o], fp32 sums,
///                          one rounding to the output type
/// The two copies cost about (1 + Cp/C) passes over x (im2col writes taps × x). The result equals the
/// im2col path's up to the order of the fp32 sums (the op catalogue checks both on the GPU).
extension CUDABackend {
    /// Channel padding of the operand copies: the kernel's K step.
    static let implicitChannelBlock = 32
    /// Positions per thread block, threads, pipeline stages × 32-channel K steps per stage
    /// (CG_STAGES, CG_KSUB of the kernel source: keep them equal) and the bytes of one tile row.
    static let implicitTile = (positions: 128, threads: 256, stages: 3, stepsPerStage: 2, rowBytes: 64)
    /// The wgmma kernel: positions per block, threads (two consumer warpgroups and a producer),
    /// CW_STAGES × CW_KSUB of the kernel source (keep them equal), and its channel tiles.
    static let hopperConvolutionTile = (positions: 128, threads: 384, stages: 4, stepsPerStage: 2, channelTiles: [96, 128, 192])

    /// Fewest output channels the wgmma kernel takes.
    static let hopperMinimumChannels = 192

    /// The wgmma kernel's channel tile for `channels` output channels: the one that pads least, ties
    /// to the larger (96 → 96, 192 → 192, 384 → 2 × 192, 100 → 128, 768 → 4 × 192).
    static func hopperChannelTile(_ channels: Int) -> Int {
        hopperConvolutionTile.channelTiles.min { a, b in
            let (pa, pb) = ((channels + a - 1) / a * a, (channels + b - 1) / b * b)
            return pa != pb ? pa < pb : a > b
        }!
    }

    /// Dynamic shared memory of the wgmma kernel with channel tile `n` (CW_PIPE_BYTES + alignment + barriers).
    static func hopperConvolutionSharedBytes(_ n: Int) -> Int {
        let tile = hopperConvolutionTile
        let pipeline = tile.stages * tile.stepsPerStage * (tile.positions + n) * 64
        return 1024 + max(pipeline, n * (tile.positions + 4) * 4) + 16 * tile.stages
    }

    /// The wgmma kernel's channel tile for this convolution, or nil for the mma.sync kernel.
    func hopperTile(outChannels: Int) -> Int? {
        // Below 192 output channels the mma.sync kernel was as fast or faster on an H200
        // (scripts/cuda/bench_conv.py: 96 → 96 at 480×832, 6.2 ms against 7.3 ms).
        guard convolutionEngine == .implicit || convolutionEngine == .cudnn, computeCapability == (9, 0), outChannels >= Self.hopperMinimumChannels else { return nil }
        let n = Self.hopperChannelTile(outChannels)
        return Self.hopperConvolutionSharedBytes(n) <= maxSharedMemoryPerBlock ? n : nil
    }

    /// Output-channel tile of the kernel: 32·mt rows, mt ∈ 1…4, the one that pads `channels` least
    /// (ties to the larger tile): 96 → 96, 192 → 2 × 96, 384 → 3 × 128, 3 → 32.
    static func implicitChannelTiles(_ channels: Int) -> Int {
        (1...4).min { a, b in
            let (pa, pb) = ((channels + 32 * a - 1) / (32 * a) * 32 * a, (channels + 32 * b - 1) / (32 * b) * 32 * b)
            return pa != pb ? pa < pb : a > b
        }!
    }

    /// Whether `implicitConv3d` takes this convolution (else im2col).
    func implicitConvolutionApplies(x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry, pointwiseDense: Bool) -> Bool {
        implicitConvolutionApplies(dtype: x.dtype, weight: weight, geometry: g, pointwiseDense: pointwiseDense)
    }

    /// Whether `implicitConv3d` takes a convolution of `dtype` operands.
    func implicitConvolutionApplies(dtype: DType, weight: Tensor, geometry g: ConvolutionGeometry, pointwiseDense: Bool) -> Bool {
        guard convolutionEngine != .im2col, computeCapability.major >= 8, !pointwiseDense,
              dtype == weight.dtype, dtype == .bf16 || dtype == .f16 else { return false }
        let cp = Self.paddedChannels(g.inChannels)
        let spatial = g.input.reduce(1, *)
        // Kernel arguments are 32-bit except positions; the copies' element counts must fit i64 trivially.
        return g.batch <= 65535 && g.outChannels <= 65535 * 32
            && [cp, g.outChannels, g.input[0], g.input[1], g.input[2], g.output[1], g.output[2]].allSatisfy({ $0 <= Int(Int32.max) })
            && spatial > 0 && (g.plane + Self.implicitTile.positions - 1) / Self.implicitTile.positions <= Int(Int32.max)
    }

    /// Writes conv3d(x, weight) + bias into `out` ([N, O, T', H', W'] dense, any float type), x being
    /// the concatenation of `parts` along time: each part is copied into its frames of the
    /// channels-last operand, so the concatenation itself is never made. `bias` is a dense f32 [O]
    /// address or 0. Geometry (of the whole input), dtypes and sizes are checked by the caller
    /// (`implicitConvolutionApplies`); the parts agree on every dimension but time.
    func implicitConv3d(_ parts: [Tensor], weight: Tensor, bias: UInt64, geometry g: ConvolutionGeometry, stride: [Int], padding: [Padding],
                        out: Tensor) throws {
        let x = parts[0]
        let cp = Self.paddedChannels(g.inChannels)
        let (t, h, w) = (g.input[0], g.input[1], g.input[2]), (kt, kh, kw) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let xcl = try channelsLastOperand(parts, geometry: g, channels: cp)
        let wp = try packedConvolutionWeight(weight, geometry: g, channels: cp)
        let type = x.dtype == .bf16 ? "bf16" : "f16"
        let family: KernelFamily, kernel: String, grid: (Int, Int, Int), threads: Int, sharedBytes: Int
        if let n = hopperTile(outChannels: g.outChannels) {
            let tile = Self.hopperConvolutionTile
            (family, kernel) = (.hopperConv, "td_conv_wgmma_\(type)_n\(n)")
            grid = ((g.plane + tile.positions - 1) / tile.positions, (g.outChannels + n - 1) / n, g.batch)
            (threads, sharedBytes) = (tile.threads, Self.hopperConvolutionSharedBytes(n))
        } else {
            let tile = Self.implicitTile
            let mt = Self.implicitChannelTiles(g.outChannels), rows = 32 * mt
            (family, kernel) = (.implicitConv, "td_conv_igemm_\(type)_m\(mt)")
            grid = ((g.plane + tile.positions - 1) / tile.positions, (g.outChannels + rows - 1) / rows, g.batch)
            (threads, sharedBytes) = (tile.threads, tile.stages * tile.stepsPerStage * (rows + tile.positions) * tile.rowBytes)
        }
        try launch(family, kernel, grid: grid, block: (threads, 1, 1), sharedBytes: sharedBytes, [
            .pointer(try address(out)), .int32(try floatCode(out.dtype, "conv3d")), .pointer(try address(xcl)), .pointer(try address(wp)),
            .pointer(bias), .int32(Int32(g.outChannels)), .int32(Int32(cp)), .int32(Int32(t)), .int32(Int32(h)), .int32(Int32(w)),
            .int32(Int32(kt)), .int32(Int32(kh)), .int32(Int32(kw)),
            .int32(Int32(stride[0])), .int32(Int32(stride[1])), .int32(Int32(stride[2])),
            .int32(Int32(padding[0].before)), .int32(Int32(padding[1].before)), .int32(Int32(padding[2].before)),
            .int32(Int32(g.output[1])), .int32(Int32(g.output[2])), .int64(Int64(g.plane)),
        ])
        convolution.lock.withLock { convolution.implicitRuns += 1 }
    }

    /// Input channels rounded up to the kernels' K step (the operand copies' channel count).
    static func paddedChannels(_ channels: Int) -> Int {
        (channels + implicitChannelBlock - 1) / implicitChannelBlock * implicitChannelBlock
    }

    /// `parts` (one 16-bit type, agreeing on every dimension but time) concatenated along time into a
    /// dense channels-last tensor [N, lead + T + trail, H, W, cp] with channels ≥ C and the `lead` /
    /// `trail` frames of every batch item zero: the concatenation itself is never made.
    func channelsLastOperand(_ parts: [Tensor], geometry g: ConvolutionGeometry, channels cp: Int,
                             leadingZeroFrames lead: Int = 0, trailingZeroFrames trail: Int = 0) throws -> Tensor {
        let dtype = parts[0].dtype
        let (t, h, w) = (g.input[0], g.input[1], g.input[2])
        let frames = lead + t + trail
        let xcl = try empty([g.batch, frames, h, w, cp], dtype: dtype)
        let frameElements = h * w * cp
        if lead + trail > 0 {
            for n in 0..<g.batch {
                let base = try address(xcl) + UInt64(n * frames * frameElements * dtype.byteSize)
                if lead > 0 {
                    try driver.check(driver.api.cuMemsetD8Async(base, 0, lead * frameElements * dtype.byteSize, stream), "cuMemsetD8Async")
                }
                if trail > 0 {
                    try driver.check(driver.api.cuMemsetD8Async(base + UInt64((lead + t) * frameElements * dtype.byteSize), 0,
                                                                trail * frameElements * dtype.byteSize, stream), "cuMemsetD8Async")
                }
            }
        }
        var firstFrame = lead
        for part in parts {
            let (partFrames, spatial) = (part.shape[2], part.shape[2] * h * w)
            let partBuffer = try deviceBuffer(part, "conv3d")
            // Positions one contiguous run per channel (W, H and T dense): the tiled transpose.
            let runs = part.strides[4] == 1 && (h == 1 || part.strides[3] == w) && (partFrames == 1 || part.strides[2] == h * w)
            // One launch per batch item: its frames of xcl start at (n·frames + firstFrame)·H·W·Cp.
            for n in 0..<g.batch where spatial > 0 {
                let destination = try address(xcl) + UInt64(((n * frames + firstFrame) * frameElements) * dtype.byteSize)
                let source: [KernelArgument] = [.pointer(partBuffer.address), .int64(Int64(part.offset + n * part.strides[0]))]
                if runs {
                    try launch(.implicitConv, "td_conv_channels_last_runs", grid: ((spatial + 63) / 64, cp / 32, 1), block: (256, 1, 1),
                               [.pointer(destination)] + source + [
                                   .int64(Int64(part.strides[1])), .int32(Int32(g.inChannels)), .int32(Int32(cp)), .int64(Int64(spatial)),
                               ])
                } else {
                    try launch(.implicitConv, "td_conv_channels_last",
                               grid: (max(1, min((spatial * cp / 8 + 255) / 256, multiprocessorCount * 16)), 1, 1), block: (256, 1, 1),
                               [.pointer(destination)] + source + [
                                   .int64(0), .int64(Int64(part.strides[1])), .int64(Int64(part.strides[2])),
                                   .int64(Int64(part.strides[3])), .int64(Int64(part.strides[4])),
                                   .int32(Int32(g.inChannels)), .int32(Int32(cp)), .int32(Int32(partFrames)), .int32(Int32(h)), .int32(Int32(w)),
                               ])
                }
            }
            firstFrame += partFrames
        }
        return xcl
    }

    /// The weight [O, C, kt, kh, kw] (any strided 16-bit view) as a dense [O, taps, cp] tensor, tap-major,
    /// channels ≥ C zero: the implicit kernels' A operand and cuDNN's NDHWC ("KTRSC") filter.
    func packedConvolutionWeight(_ weight: Tensor, geometry g: ConvolutionGeometry, channels cp: Int) throws -> Tensor {
        let (kt, kh, kw) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let taps = kt * kh * kw
        let wp = try empty([g.outChannels, taps, cp], dtype: weight.dtype)
        let wBuffer = try deviceBuffer(weight, "conv3d weight")
        let packing = elementwiseGrid(g.outChannels * taps * cp)
        try launch(.implicitConv, "td_conv_pack_weight", grid: packing.0, block: packing.1, [
            .pointer(try address(wp)), .pointer(wBuffer.address), .int64(Int64(weight.offset)),
            .int64(Int64(weight.strides[0])), .int64(Int64(weight.strides[1])), .int64(Int64(weight.strides[2])),
            .int64(Int64(weight.strides[3])), .int64(Int64(weight.strides[4])),
            .int32(Int32(g.outChannels)), .int32(Int32(g.inChannels)), .int32(Int32(cp)),
            .int32(Int32(kt)), .int32(Int32(kh)), .int32(Int32(kw)),
        ])
        return wp
    }
}
