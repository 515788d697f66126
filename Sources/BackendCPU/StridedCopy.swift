import TensorCore

/// Row-wise iteration over a strided N-d index space shared by several operands.
/// The last dimension is the "row"; `body(row, offsets)` receives each operand's element
/// offset of the row's first element. Rows are distributed over threads.
struct RowIterator {
    let outer: [Int]          // shape without the last dimension
    let rowLength: Int
    let strides: [[Int]]      // per operand, full-rank strides
    let offsets: [Int]        // per operand base offset

    init(shape: [Int], operands: [(strides: [Int], offset: Int)]) {
        outer = shape.isEmpty ? [] : Array(shape.dropLast())
        rowLength = shape.last ?? 1
        strides = operands.map { $0.strides.isEmpty ? [0] : $0.strides }
        offsets = operands.map { $0.offset }
    }

    var rowCount: Int { outer.reduce(1, *) }
    func innerStride(_ operand: Int) -> Int { strides[operand].last ?? 0 }

    /// Element offsets of row `row`'s first element for every operand.
    @inline(__always)
    func rowOffsets(_ row: Int, into out: inout [Int]) {
        for o in 0..<offsets.count { out[o] = offsets[o] }
        var r = row
        var d = outer.count - 1
        while d >= 0 {
            let n = outer[d]
            let i = r % n
            r /= n
            if i != 0 { for o in 0..<offsets.count { out[o] += i * strides[o][d] } }
            d -= 1
        }
    }

    func forEachRow(parallel: Bool = true, _ body: (Int, [Int]) -> Void) {
        let rows = rowCount
        let minRows = max(1, 16_384 / max(rowLength, 1))
        func run(_ range: Range<Int>) {
            var offs = [Int](repeating: 0, count: offsets.count)
            for r in range {
                rowOffsets(r, into: &offs)
                body(r, offs)
            }
        }
        if parallel { Parallel.forRanges(rows, minChunk: minRows, run) } else { run(0..<rows) }
    }
}

extension Tensor {
    /// Byte pointer to the element at this view's offset (host tensors only).
    var rawBase: UnsafeMutableRawPointer {
        (buffer as! HostBuffer).base
    }
}

enum StridedCopy {
    /// Copies `src` into `dst` (same shape, any strides, any dtypes). Floats are converted with
    /// PyTorch's rounding; equal dtypes are copied bit for bit (so i64 values survive).
    static func copy(_ src: Tensor, into dst: Tensor) {
        precondition(src.shape == dst.shape)
        let sp = UnsafeRawPointer(src.rawBase), dp = dst.rawBase
        let esz = src.dtype.byteSize
        if src.dtype == dst.dtype, src.isContiguous, dst.isContiguous {
            dp.advanced(by: dst.offset * esz).copyMemory(from: sp.advanced(by: src.offset * esz), byteCount: src.byteCount)
            return
        }
        let it = RowIterator(shape: src.shape, operands: [(src.strides, src.offset), (dst.strides, dst.offset)])
        let n = it.rowLength, ss = it.innerStride(0), ds = it.innerStride(1)
        let sdt = src.dtype, ddt = dst.dtype
        it.forEachRow { _, o in
            if sdt == ddt {
                if ss == 1 && ds == 1 {
                    (dp + o[1] * esz).copyMemory(from: sp + o[0] * esz, byteCount: n * esz)
                } else {
                    for i in 0..<n { (dp + (o[1] + i * ds) * esz).copyMemory(from: sp + (o[0] + i * ss) * esz, byteCount: esz) }
                }
            } else if sdt == .f32 && ds == 1 && ss == 1 {
                let s = (sp + o[0] * 4).assumingMemoryBound(to: Float.self)
                for i in 0..<n { storeFloat(s[i], dp, o[1] + i, ddt) }
            } else {
                for i in 0..<n { storeFloat(loadFloat(sp, o[0] + i * ss, sdt), dp, o[1] + i * ds, ddt) }
            }
        }
    }
}

/// An f32 contiguous copy of any host tensor, or the tensor itself when it already is one.
/// Kernels read inputs through this so they only handle dense f32.
struct DenseF32 {
    let tensor: Tensor
    var pointer: UnsafePointer<Float> {
        UnsafePointer((tensor.rawBase + tensor.offset * 4).assumingMemoryBound(to: Float.self))
    }

    init(_ t: Tensor) throws {
        if t.dtype == .f32 && t.isContiguous {
            tensor = t
        } else {
            let d = try Tensor.hostEmpty(t.shape, dtype: .f32)
            StridedCopy.copy(t, into: d)
            tensor = d
        }
    }
}

extension Tensor {
    /// Mutable f32 pointer of a freshly allocated contiguous f32 host tensor.
    var mutableFloats: UnsafeMutablePointer<Float> {
        precondition(dtype == .f32 && isContiguous)
        return (rawBase + offset * 4).assumingMemoryBound(to: Float.self)
    }
}
