import TensorCore

extension CUDABackend {
    /// A per-channel parameter ([C], or [C, 1, 1, …] / [1, C] — C elements whose first non-1 dim is
    /// C, as the CPU's `channelVector` accepts) as a dense f32/bf16/f16 tensor on this device, with
    /// its kernel dtype code; nil when absent.
    func channelParameter(_ t: Tensor?, count: Int, _ what: String) throws -> (tensor: Tensor, code: Int32)? {
        guard let t else { return nil }
        _ = try deviceBuffer(t, what)
        guard t.count == count, t.shape.first(where: { $0 != 1 }) ?? 1 == count || count == 1 else {
            throw TensorError.shapeMismatch("\(what) has shape \(t.shape), expected \(count) channels")
        }
        let code = try floatCode(t.dtype, what)
        return (t.isContiguous ? t : try contiguous(t), code)
    }

    func parameterArguments(_ p: (tensor: Tensor, code: Int32)?) throws -> [KernelArgument] {
        guard let p else { return [.pointer(0), .int32(0)] }
        return [.pointer(try address(p.tensor)), .int32(p.code)]
    }

    /// Rows of at most `warpRowUnits` units (groups of 4 of a `vec` row) are normalised by one warp
    /// each (norms.cu's RowTeam warp mode: warp-shuffle sums, no block barrier), `warpRowsPerBlock` to
    /// a block; wider rows by a whole block. Every 1.3B row (1536 wide, 384 units) takes the warp path:
    /// a block of ~192 threads on such a row spent its time in block_sum's two barriers per pass
    /// (H100, 32 760 rows: rmsNormRotary 0.317 → 0.279 ms, modulatedLayerNorm 0.227 → 0.188 ms).
    static let warpRowUnits = 512
    /// With `CUDAKernelSet.candidate`, rows of up to this many units take the warp path too, uncached
    /// past 3 072 columns (four rows of 5 120 f32 exceed 48 KiB): the 14B's 5 120-wide rows
    /// (H100, 75 600 rows: rmsNormRotary 2.844 → 1.721 ms, modulatedLayerNorm 1.884 → 1.911 ms; caching
    /// them in 80 KiB of shared memory was slower still, 4.4 ms).
    static let candidateWarpRowUnits = 1280
    static let warpRowsPerBlock = 4

    /// Launch shape of the row-norm kernels (td_layer_norm, td_rms_norm and the fused norms that must
    /// share their statistics): whether rows are read as groups of 4, whether each team caches its row
    /// in shared memory, whether a team is a warp (`perWarp`) or the block, threads per block, the grid.
    func rowNormLaunch(_ x: Tensor, rows: Int, cols: Int) throws
        -> (vec: Bool, cached: Bool, perWarp: Bool, block: Int, grid: Int, sharedBytes: Int) {
        let alignment = x.dtype == .f32 ? 16 : 8
        let aligned = try address(x) % UInt64(alignment) == 0
        let vec = x.isContiguous && cols % 4 == 0 && aligned
        let units = vec ? cols / 4 : cols
        if vec && units <= (kernelSet == .candidate ? Self.candidateWarpRowUnits : Self.warpRowUnits) {
            let cacheBytes = Self.warpRowsPerBlock * cols * 4
            let cached = cacheBytes <= 48 * 1024
            let grid = max(1, min((rows + Self.warpRowsPerBlock - 1) / Self.warpRowsPerBlock, multiprocessorCount * 64))
            return (vec, cached, true, 32 * Self.warpRowsPerBlock, grid, cached ? cacheBytes : 0)
        }
        let cacheBytes = cols * 4
        let cached = cacheBytes <= 48 * 1024
        // About two units (groups of 4, or scalars) per thread, 64…1024 threads.
        let block = min(1024, max(64, ((units + 1) / 2 + 31) / 32 * 32))
        let grid = max(1, min(rows, multiprocessorCount * 64))
        return (vec, cached, false, block, grid, cached ? cacheBytes : 0)
    }

    // MARK: Row norms

    /// LayerNorm over the last dim (fp32 two-pass statistics, a warp or a block per row); x may be any
    /// strided view; weight/bias [C] of any float dtype; output dense in x's dtype.
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        try rowNorm("layerNorm", kernel: "td_layer_norm", x, parameters: [("weight", weight), ("bias", bias)], eps: eps)
    }

    /// Wan/T5 RMSNorm over the last dim: normalised in fp32, rounded to x's dtype, then × weight.
    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor {
        try rowNorm("rmsNorm", kernel: "td_rms_norm", x, parameters: [("weight", weight)], eps: eps)
    }

    /// Launches a row-norm kernel of norms.cu: (out, x, dtype, view, last stride, rows, cols, vec,
    /// cached, perWarp) followed by the optional per-channel parameters [C] in order, then eps.
    private func rowNorm(_ op: String, kernel: String, _ x: Tensor, parameters: [(name: String, tensor: Tensor?)],
                         eps: Float) throws -> Tensor {
        let source = try deviceBuffer(x, op)
        try activate()
        let cols = x.shape.last ?? 1
        let channelParameters = try parameters.map { try channelParameter($0.tensor, count: cols, "\(op) \($0.name)") }
        let dt = try floatCode(x.dtype, op)
        let out = try empty(x.shape, dtype: x.dtype)
        let rows = x.count / max(cols, 1)
        guard rows > 0, cols > 0 else { return out }
        let l = try rowNormLaunch(x, rows: rows, cols: cols)
        try launch(.norms, kernel, grid: l.grid, block: l.block, sharedBytes: l.sharedBytes, [
            .pointer(try address(out)), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides.last ?? 1)), .int64(Int64(rows)), .int64(Int64(cols)),
            .int32(l.vec ? 1 : 0), .int32(l.cached ? 1 : 0), .int32(l.perWarp ? 1 : 0),
        ] + (try channelParameters.flatMap { try parameterArguments($0) }) + [.float(eps)])
        return out
    }

    // MARK: L2 norm

    /// The VAE's RMS_norm along `dim`: a thread per position of the other dims, looping over the
    /// channels (coalesced for any dim but the last). A strided x is made dense first.
    public func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        _ = try deviceBuffer(x, "l2Norm")
        try activate()
        let ax = try x.axis(dim)
        let c = x.shape[ax]
        let g = try channelParameter(gamma, count: c, "l2Norm gamma")
        let b = try channelParameter(bias, count: c, "l2Norm bias")
        let dt = try floatCode(x.dtype, "l2Norm")
        let out = try empty(x.shape, dtype: x.dtype)
        guard out.count > 0 else { return out }
        let src = x.isContiguous ? x : try contiguous(x)
        let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[(ax + 1)...].reduce(1, *)
        let (grid, block) = elementwiseGrid(outer * inner)
        try launch(.norms, "td_l2_norm", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(try address(src)), .int32(dt),
            .int64(Int64(outer)), .int64(Int64(c)), .int64(Int64(inner)),
        ] + (try parameterArguments(g)) + (try parameterArguments(b)) + [.float(eps), .float(Float(c).squareRoot())])
        return out
    }

    // MARK: Rotary

    /// Interleaved-pair RoPE on x [..., L, H, D] (any strided view) with f32/bf16/f16 tables
    /// [L, D/2]; output dense in x's dtype.
    public func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        let source = try deviceBuffer(x, "rotary")
        _ = try deviceBuffer(cos, "rotary cos")
        _ = try deviceBuffer(sin, "rotary sin")
        guard x.rank >= 3, x.shape[x.rank - 1] % 2 == 0 else {
            throw TensorError.invalidArgument("rotary needs x [..., L, H, D] with even D, got \(x.shape)")
        }
        let l = x.shape[x.rank - 3], h = x.shape[x.rank - 2], dd = x.shape[x.rank - 1], half = dd / 2
        guard cos.shape == [l, half], sin.shape == [l, half] else {
            throw TensorError.shapeMismatch("rotary tables \(cos.shape)/\(sin.shape), expected [\(l), \(half)] for x \(x.shape)")
        }
        try activate()
        let dt = try floatCode(x.dtype, "rotary")
        let cCode = try floatCode(cos.dtype, "rotary cos"), sCode = try floatCode(sin.dtype, "rotary sin")
        let cosT = cos.isContiguous ? cos : try contiguous(cos), sinT = sin.isContiguous ? sin : try contiguous(sin)
        let out = try empty(x.shape, dtype: x.dtype)
        guard out.count > 0 else { return out }
        let rows = x.count / dd
        let pairAligned = try address(x) % UInt64(2 * x.dtype.byteSize) == 0
        let pairs = x.isContiguous && pairAligned
        let bx = min(128, (half + 31) / 32 * 32), by = max(1, 256 / bx)
        let grid = max(1, min((rows + by - 1) / by, multiprocessorCount * 32))
        try launch(.norms, "td_rotary", grid: (grid, 1, 1), block: (bx, by, 1), [
            .pointer(try address(out)), .pointer(source.address), .int32(dt), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides[x.rank - 1])), .int32(pairs ? 1 : 0),
            .int64(Int64(rows)), .int64(Int64(h)), .int64(Int64(l)), .int64(Int64(half)),
            .pointer(try address(cosT)), .int32(cCode), .pointer(try address(sinT)), .int32(sCode),
        ])
        return out
    }
}
