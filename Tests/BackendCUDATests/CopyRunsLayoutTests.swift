import BackendCPU
@testable import BackendCUDA
import Testing
import TensorCore

/// `CUDABackend.denseRuns`, which sends a copy to `td_copy_runs16`, without a GPU: the row
/// decomposition it returns, replayed on the host exactly as the kernel walks it (row r, row-major
/// over the row dims, starts at Σ index·stride in each view; `length` elements follow), must
/// reproduce the CPU's copy; layouts the kernel cannot take (runs or row strides off 16 bytes)
/// must be refused.
struct CopyRunsLayoutTests {
    /// dst's buffer after copying src into it row by row as td_copy_runs16 does (element offsets
    /// into two flat arrays: src's buffer values, dst's buffer filled with NaN).
    static func replay(_ src: Tensor, _ dst: Tensor, dstBufferCount: Int) throws -> [Float] {
        let runs = try #require(CUDABackend.denseRuns(src, dst))
        let source = try sourceBuffer(src)
        var out = [Float](repeating: .nan, count: dstBufferCount)
        let rows = runs.rows.reduce(1, *)
        for r in 0..<rows {
            var rem = r, s = src.offset, d = dst.offset
            for k in runs.rows.indices.reversed() {
                let i = rem % runs.rows[k]
                rem /= runs.rows[k]
                s += i * runs.sourceStrides[k]
                d += i * runs.destinationStrides[k]
            }
            for e in 0..<runs.length { out[d + e] = source[s + e] }
        }
        return out
    }

    /// The values of src's whole buffer, by element offset.
    static func sourceBuffer(_ t: Tensor) throws -> [Float] {
        let whole = try Tensor(buffer: t.buffer, dtype: t.dtype, shape: [t.buffer.byteCount / t.dtype.byteSize])
        return try whole.floats()
    }

    @Test func headMergeIsCopiedRowByRow() throws {
        let (h, l, d) = (3, 5, 8)
        let values = (0..<(h * l * d)).map { Float($0) }
        let o = try Tensor.host(values, shape: [1, h, l, d])                 // [B, H, L, D] row-major
        let src = try o.permuted([0, 2, 1, 3])                                // [B, L, H, D] view
        let dst = try Tensor.hostEmpty([1, l, h, d])
        let runs = try #require(CUDABackend.denseRuns(src, dst))
        #expect(runs.rows == [l, h] && runs.length == d)
        #expect(runs.sourceStrides == [d, l * d] && runs.destinationStrides == [h * d, d])
        let out = try Self.replay(src, dst, dstBufferCount: l * h * d)
        #expect(out == (try CPUBackend().contiguous(src).floats()))
    }

    @Test func headGroupsJoinAsSLAJoinsThem() throws {
        // SLA's join: a group of 2 heads [1, 2, L, D] permuted to [1, L, 2, D], into heads 3..<5 of [1, L, 6, D].
        let (l, d, heads, start) = (7, 4, 6, 3)
        let part = try Tensor.host((0..<(2 * l * d)).map { Float($0) + 0.5 }, shape: [1, 2, l, d]).permuted([0, 2, 1, 3])
        let whole = try Tensor.hostEmpty([1, l, heads, d])
        let slice = try whole.narrowed(dim: 2, start: start, length: 2)
        let runs = try #require(CUDABackend.denseRuns(part, slice))
        #expect(runs.rows == [l, 2] && runs.length == d)
        let out = try Self.replay(part, slice, dstBufferCount: l * heads * d)
        let expected = try CPUBackend().contiguous(part).floats()
        var got: [Float] = []
        for t in 0..<l { for hh in 0..<2 { for e in 0..<d { got.append(out[(t * heads + start + hh) * d + e]) } } }
        #expect(got == expected)
        #expect(out.enumerated().allSatisfy { i, v in ((i / d) % heads >= start && (i / d) % heads < start + 2) != v.isNaN })
    }

    @Test func layoutsOff16BytesAreRefused() throws {
        // A run of 6 f32 (24 bytes), a run of 4 bf16 (8 bytes), a row stride of 10 f32 (narrowed last dim).
        let odd = try Tensor.hostEmpty([1, 3, 5, 6]).permuted([0, 2, 1, 3])
        #expect(CUDABackend.denseRuns(odd, try Tensor.hostEmpty([1, 5, 3, 6])) == nil)
        let short = try Tensor.hostEmpty([1, 3, 5, 4], dtype: .bf16).permuted([0, 2, 1, 3])
        #expect(CUDABackend.denseRuns(short, try Tensor.hostEmpty([1, 5, 3, 4], dtype: .bf16)) == nil)
        let narrowed = try Tensor.hostEmpty([6, 10]).narrowed(dim: 1, start: 1, length: 8)
        #expect(CUDABackend.denseRuns(narrowed, try Tensor.hostEmpty([6, 8])) == nil)
        // A transpose has no contiguous run at all.
        #expect(CUDABackend.denseRuns(try Tensor.hostEmpty([8, 12]).transposed(0, 1), try Tensor.hostEmpty([12, 8])) == nil)
    }
}
