import Testing
import TensorCore
import BackendCPU

/// `RopeTableCache.deviceTables`: the rows a forward needs, bit for bit the host tables' rows, kept per
/// (grid, rows, backend). On the CPU an upload is the host view itself, so a kept entry shows as the
/// same buffer and offset.
@Suite struct RopeDeviceCacheTests {
    @Test func deviceTablesAreTheHostRowsAndKeptPerRowRange() throws {
        let cache = RopeTableCache()
        let (cpu, other) = (CPUBackend(), CPUBackend())
        let host = try Rope3D.tables(frames: 2, height: 3, width: 4, headDim: 64)
        func expectRows(_ t: (cos: Tensor, sin: Tensor), _ rows: Range<Int>) throws {
            #expect(t.cos.shape == [rows.count, 32] && t.sin.shape == [rows.count, 32])
            let want = (cos: try host.cos.narrowed(dim: 0, start: rows.lowerBound, length: rows.count),
                        sin: try host.sin.narrowed(dim: 0, start: rows.lowerBound, length: rows.count))
            #expect(try t.cos.floats().map(\.bitPattern) == want.cos.floats().map(\.bitPattern))
            #expect(try t.sin.floats().map(\.bitPattern) == want.sin.floats().map(\.bitPattern))
        }
        let first = try cache.deviceTables(frames: 2, height: 3, width: 4, headDim: 64, rows: 5..<17, on: cpu)
        try expectRows(first, 5..<17)
        let again = try cache.deviceTables(frames: 2, height: 3, width: 4, headDim: 64, rows: 5..<17, on: cpu)
        #expect(again.cos.buffer === first.cos.buffer && again.cos.offset == first.cos.offset)
        let otherRows = try cache.deviceTables(frames: 2, height: 3, width: 4, headDim: 64, rows: 0..<12, on: cpu)
        #expect(otherRows.cos.offset != first.cos.offset)
        try expectRows(otherRows, 0..<12)
        try expectRows(cache.deviceTables(frames: 2, height: 3, width: 4, headDim: 64, rows: 3..<9, on: other), 3..<9)
        try expectRows(cache.deviceTables(frames: 2, height: 3, width: 4, headDim: 64, rows: 3..<9, on: cpu), 3..<9)
        #expect(throws: TensorError.self) { try cache.deviceTables(frames: 2, height: 2, width: 2, headDim: 7, rows: 0..<8, on: cpu) }
    }
}
