import CCUDA
import TensorCore

extension StridedArgument {
    /// A block of i64 words passed by value as a kernel's struct parameter (e.g. `PadDims` of
    /// layout.cu); the caller lays the words out as the struct declares them.
    init(words: [Int64]) { self.words = words }
}

extension CUDABackend {
    // MARK: Concat

    /// Each input is copied into its slice of the output (`out.narrowed(dim)`): a device memcpy
    /// when both views are dense, else `td_copy_strided`. Like the CPU: equal rank and dtype, equal
    /// sizes except along `dim`; any dtype, any strides.
    public func concat(_ xs: [Tensor], dim: Int) throws -> Tensor {
        guard let first = xs.first else { throw TensorError.invalidArgument("concat of no tensors") }
        let d = try first.axis(dim)
        for x in xs {
            _ = try deviceBuffer(x, "concat")
            guard x.rank == first.rank, x.dtype == first.dtype,
                  x.shape.enumerated().allSatisfy({ $0.offset == d || $0.element == first.shape[$0.offset] }) else {
                throw TensorError.shapeMismatch("concat along \(d): \(xs.map { "\($0.dtype)\($0.shape)" }.joined(separator: ", "))")
            }
        }
        try activate()
        var shape = first.shape
        shape[d] = xs.reduce(0) { $0 + $1.shape[d] }
        let out = try empty(shape, dtype: first.dtype)
        var start = 0
        for x in xs {
            let slice = try out.narrowed(dim: d, start: start, length: x.shape[d])
            start += x.shape[d]
            try copyElements(x, into: slice, "concat")
        }
        return out
    }

    /// dst ← src element for element (same shape and dtype; dst a view of a buffer of this backend).
    func copyElements(_ src: Tensor, into dst: Tensor, _ op: String) throws {
        precondition(src.shape == dst.shape && src.dtype == dst.dtype)
        guard src.count > 0, try !copyWithDriver(src, into: dst, op), try !copyRuns(src, into: dst, op) else { return }
        let from = try deviceBuffer(src, op), to = try deviceBuffer(dst, op)
        let (grid, block) = elementwiseGrid(src.count)
        try launch(.layout, "td_copy_strided", grid: grid, block: block, [
            .pointer(to.address), .strided(try StridedArgument(dst)),
            .pointer(from.address), .strided(try StridedArgument(src)),
            .int32(Int32(src.dtype.byteSize)), .int64(Int64(src.count)),
        ])
    }

    /// dst ← src with one driver copy when both views are dense (a linear copy) or pitched rows (a
    /// 2-D copy, near the copy bandwidth; a kernel would decode every element's index). Returns false,
    /// copying nothing, for other layouts. Same shape and dtype, count > 0.
    func copyWithDriver(_ src: Tensor, into dst: Tensor, _ op: String) throws -> Bool {
        _ = try deviceBuffer(src, op)
        _ = try deviceBuffer(dst, op)
        if src.isContiguous && dst.isContiguous {
            try driver.check(driver.api.cuMemcpyDtoDAsync(try address(dst), try address(src), src.byteCount, stream),
                             "cuMemcpyDtoDAsync")
            return true
        }
        guard let rows = Self.pitchedRows(src, dst) else { return false }
        let size = src.dtype.byteSize
        var copy = CCUDA_MEMCPY2D()
        copy.srcMemoryType = Int32(CCU_MEMORYTYPE_DEVICE)
        copy.srcDevice = try address(src)
        copy.srcPitch = rows.sourcePitch * size
        copy.dstMemoryType = Int32(CCU_MEMORYTYPE_DEVICE)
        copy.dstDevice = try address(dst)
        copy.dstPitch = rows.destinationPitch * size
        copy.WidthInBytes = rows.length * size
        copy.Height = rows.count
        try driver.check(driver.api.cuMemcpy2DAsync(&copy, stream), "cuMemcpy2DAsync")
        return true
    }

    /// dst ← src with `td_copy_runs16` when both views are rows of one contiguous run of a multiple of 16
    /// bytes at 16-byte-aligned starts (`denseRuns`), whatever the rows' order: a row's index is
    /// decoded once instead of every element's. Returns false, copying nothing, for other layouts.
    func copyRuns(_ src: Tensor, into dst: Tensor, _ op: String) throws -> Bool {
        guard let runs = Self.denseRuns(src, dst) else { return false }
        let (from, to) = (try address(src), try address(dst))
        guard from % 16 == 0, to % 16 == 0 else { return false }
        let chunks = runs.length * src.dtype.byteSize / 16
        let rows = runs.rows.reduce(1, *)
        let group = min(32, 1 << (Int.bitWidth - (chunks - 1).leadingZeroBitCount))   // ≥ chunks, a power of two
        let (grid, block) = elementwiseGrid(rows * group)
        try launch(.layout, "td_copy_runs16", grid: grid, block: block, [
            .pointer(to), .strided(try StridedArgument(shape: runs.rows, strides: runs.destinationStrides, offset: 0)),
            .pointer(from), .strided(try StridedArgument(shape: runs.rows, strides: runs.sourceStrides, offset: 0)),
            .int32(Int32(src.dtype.byteSize)), .int64(Int64(chunks)), .int64(Int64(rows)), .int32(Int32(group)),
        ])
        return true
    }

    /// When both views end in the same dims dense in both (a run of `length` contiguous elements, a
    /// multiple of 16 bytes) and every row dim's stride is a multiple of 16 bytes in both: the row dims'
    /// sizes and each view's strides for them (in elements, outermost first). Size-1 dims are ignored.
    /// The rows may be ordered differently in the two views (a permutation), unlike `pitchedRows`.
    static func denseRuns(_ a: Tensor, _ b: Tensor) -> (rows: [Int], sourceStrides: [Int], destinationStrides: [Int], length: Int)? {
        guard let (dims, split) = denseTail(a, b) else { return nil }
        let size = a.dtype.byteSize, rowDims = Array(dims[..<split])
        let length = dims[split...].reduce(1) { $0 * a.shape[$1] }
        guard length * size % 16 == 0,
              rowDims.allSatisfy({ a.strides[$0] * size % 16 == 0 && b.strides[$0] * size % 16 == 0 }) else { return nil }
        return (rowDims.map { a.shape[$0] }, rowDims.map { a.strides[$0] }, rowDims.map { b.strides[$0] }, length)
    }

    /// The dims of size above 1 (of two views of one shape), and where among them the innermost run
    /// dense in both views starts: columns are dims[split...], rows dims[..<split]. nil when fewer than
    /// two such dims, when the innermost is not dense in both, or when every dim is (split 0).
    static func denseTail(_ a: Tensor, _ b: Tensor) -> (dims: [Int], split: Int)? {
        let dims = a.shape.indices.filter { a.shape[$0] != 1 }
        guard dims.count >= 2 else { return nil }
        func dense(_ t: Tensor, from k: Int) -> Bool {
            var expected = 1
            for i in dims[k...].reversed() {
                if t.strides[i] != expected { return false }
                expected *= t.shape[i]
            }
            return true
        }
        guard var split = dims.indices.last, dense(a, from: split), dense(b, from: split) else { return nil }
        while split > 0, dense(a, from: split - 1), dense(b, from: split - 1) { split -= 1 }
        return split > 0 ? (dims, split) : nil
    }

    /// When both views are `count` rows of `length` contiguous elements, each at a fixed pitch
    /// (elements), and the rows are long enough for a 2-D copy to pay: that layout, else nil.
    /// Size-1 dims are ignored; the split between row and column dims is the same for both views.
    static func pitchedRows(_ a: Tensor, _ b: Tensor) -> (count: Int, length: Int, sourcePitch: Int, destinationPitch: Int)? {
        guard let (dims, split) = denseTail(a, b) else { return nil }
        // The row dims must merge into one uniformly strided dim in both views.
        func pitch(_ t: Tensor) -> Int? {
            for j in 0..<(split - 1) where t.strides[dims[j]] != t.strides[dims[j + 1]] * t.shape[dims[j + 1]] { return nil }
            return t.strides[dims[split - 1]]
        }
        let length = dims[split...].reduce(1) { $0 * a.shape[$1] }
        let count = dims[..<split].reduce(1) { $0 * a.shape[$1] }
        guard let pa = pitch(a), let pb = pitch(b), pa >= length, pb >= length, length >= 256,
              max(pa, pb) * a.dtype.byteSize <= Int(Int32.max) else { return nil }
        return (count, length, pa, pb)
    }

    // MARK: Pad

    /// The bits of `value` stored as one element of `dtype`, as the CPU stores it (0 for ±0, which
    /// the CPU writes with a memset).
    static func fillBits(_ value: Float, _ dtype: DType) -> UInt64 {
        guard value != 0 else { return 0 }
        var bits: UInt64 = 0
        withUnsafeMutableBytes(of: &bits) { storeFloat(value, $0.baseAddress!, 0, dtype) }
        return bits
    }

    /// One kernel over the output: each element is read from the input or is the fill value.
    /// Dims are compacted first (size-1 unpadded dims dropped, unpadded neighbours that are
    /// contiguous in the input merged), so any rank works as long as at most 8 dims remain.
    public func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor {
        let source = try deviceBuffer(x, "pad")
        guard padding.count <= x.rank, padding.allSatisfy({ $0.before >= 0 && $0.after >= 0 }) else {
            throw TensorError.invalidArgument("pad \(padding) for shape \(x.shape) (only non-negative padding of existing dims)")
        }
        try activate()
        let lead = x.rank - padding.count
        let pads = [Padding](repeating: .none, count: lead) + padding
        var shape = x.shape
        for (i, p) in pads.enumerated() { shape[i] += p.before + p.after }
        let out = try empty(shape, dtype: x.dtype)
        let n = out.count
        guard n > 0 else { return out }

        // (out size, before, in size, in stride), outermost first.
        var dims: [(out: Int, before: Int, size: Int, stride: Int)] = []
        for i in 0..<x.rank {
            let dim = (out: shape[i], before: pads[i].before, size: x.shape[i], stride: x.strides[i])
            if dim.out == 1 && dim.size == 1 { continue }
            if let last = dims.last, last.out == last.size, dim.out == dim.size, last.stride == dim.stride * dim.size {
                dims[dims.count - 1] = (last.out * dim.out, 0, last.size * dim.size, dim.stride)
            } else {
                dims.append(dim)
            }
        }
        let slots = StridedArgument.maxDims
        guard dims.count <= slots else {
            throw TensorError.unsupported("pad of \(x.shape) strides \(x.strides) by \(padding) has more than \(slots) non-mergeable dimensions on CUDA")
        }
        let unused = slots - dims.count
        var outSize = [Int64](repeating: 1, count: slots), before = [Int64](repeating: 0, count: slots)
        var inSize = [Int64](repeating: 1, count: slots), inStride = [Int64](repeating: 0, count: slots)
        for (i, dim) in dims.enumerated() {
            outSize[unused + i] = Int64(dim.out)
            before[unused + i] = Int64(dim.before)
            inSize[unused + i] = Int64(dim.size)
            inStride[unused + i] = Int64(dim.stride)
        }
        let geometry = StridedArgument(words: [Int64(x.offset)] + outSize + before + inSize + inStride)
        let (grid, block) = elementwiseGrid(n)
        try launch(.layout, "td_pad", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(source.address), .strided(geometry),
            .int32(Int32(x.dtype.byteSize)), .int64(Int64(bitPattern: Self.fillBits(value, x.dtype))), .int64(Int64(n)),
        ])
        return out
    }

    // MARK: Upsample

    /// Nearest upsampling by integer factors of the last two dims (nearest-exact equals
    /// dst / s for integer factors). Any dtype, any strides; output dense.
    public func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor {
        let source = try deviceBuffer(x, "upsampleNearest")
        guard x.rank >= 2, scaleH >= 1, scaleW >= 1 else {
            throw TensorError.invalidArgument("upsampleNearest needs [..., H, W] and positive factors, got \(x.shape) ×(\(scaleH), \(scaleW))")
        }
        try activate()
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        var shape = x.shape
        shape[x.rank - 2] = h * scaleH
        shape[x.rank - 1] = w * scaleW
        let out = try empty(shape, dtype: x.dtype)
        guard out.count > 0 else { return out }
        let ow = w * scaleW, rows = out.count / ow
        // Columns over threadIdx.x, several rows per block when rows are short.
        let bx = min(256, (ow + 31) / 32 * 32), by = 256 / bx
        let grid = max(1, min((rows + by - 1) / by, multiprocessorCount * 32))
        try launch(.layout, "td_upsample_nearest", grid: (grid, 1, 1), block: (bx, by, 1), [
            .pointer(try address(out)), .pointer(source.address), .strided(try StridedArgument(x)),
            .int64(Int64(x.strides[x.rank - 1])), .int32(Int32(x.dtype.byteSize)),
            .int64(Int64(h)), .int64(Int64(w)), .int64(Int64(scaleH)), .int64(Int64(scaleW)), .int64(Int64(rows)),
        ])
        return out
    }
}
