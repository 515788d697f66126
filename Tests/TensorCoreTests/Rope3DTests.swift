import Glibc
import Testing
import TensorCore

/// Rope3D.tables assembles rows from per-axis tables; every slot must be exactly the float of
/// cos/sin(position · 10000^(−j/n)) evaluated in float64 for that token, as the reference builds it.
@Suite struct Rope3DTests {
    /// The reference's construction, token by token.
    func direct(frames: Int, height: Int, width: Int, headDim: Int) -> (cos: [Float], sin: [Float]) {
        let split = Rope3D.slotSplit(headDim: headDim)
        var c: [Float] = [], s: [Float] = []
        for f in 0..<frames { for y in 0..<height { for x in 0..<width {
            for (pos, n) in [(f, split.t), (y, split.h), (x, split.w)] {
                for j in 0..<n {
                    let angle = Double(pos) * (1 / pow(10000.0, Double(2 * j) / Double(2 * n)))
                    c.append(Float(Glibc.cos(angle)))
                    s.append(Float(Glibc.sin(angle)))
                }
            }
        } } }
        return (c, s)
    }

    @Test(arguments: [(3, 5, 7, 128), (21, 3, 4, 128), (2, 9, 2, 64), (4, 3, 3, 6), (1, 1, 1, 10)])
    func tablesEqualTheTokenByTokenConstruction(grid: (Int, Int, Int, Int)) throws {
        let (f, h, w, d) = grid
        let tables = try Rope3D.tables(frames: f, height: h, width: w, headDim: d)
        #expect(tables.cos.shape == [f * h * w, d / 2] && tables.sin.shape == [f * h * w, d / 2])
        let want = direct(frames: f, height: h, width: w, headDim: d)
        #expect(try tables.cos.floats().map(\.bitPattern) == want.cos.map(\.bitPattern))
        #expect(try tables.sin.floats().map(\.bitPattern) == want.sin.map(\.bitPattern))
        if f * h * w > 1 { #expect(want.sin.contains { $0 != 0 }) }   // positions beyond 0 turn
    }

    /// The cache hands back the tables it built for the same grid (the same buffers, not a rebuild),
    /// equal to Rope3D.tables; another grid replaces them; refused geometry is not cached.
    @Test func cacheBuildsAGridsTablesOnce() throws {
        let cache = RopeTableCache()
        let first = try cache.tables(frames: 3, height: 4, width: 5, headDim: 128)
        let again = try cache.tables(frames: 3, height: 4, width: 5, headDim: 128)
        #expect(first.cos.buffer === again.cos.buffer && first.sin.buffer === again.sin.buffer)
        let fresh = try Rope3D.tables(frames: 3, height: 4, width: 5, headDim: 128)
        #expect(try again.cos.floats().map(\.bitPattern) == fresh.cos.floats().map(\.bitPattern))
        #expect(try again.sin.floats().map(\.bitPattern) == fresh.sin.floats().map(\.bitPattern))
        let other = try cache.tables(frames: 3, height: 5, width: 4, headDim: 128)
        #expect(other.cos.buffer !== first.cos.buffer)
        #expect(try other.cos.floats().map(\.bitPattern)
                == Rope3D.tables(frames: 3, height: 5, width: 4, headDim: 128).cos.floats().map(\.bitPattern))
        #expect(throws: TensorError.self) { try cache.tables(frames: 2, height: 2, width: 2, headDim: 7) }
        #expect(try cache.tables(frames: 3, height: 5, width: 4, headDim: 128).cos.buffer === other.cos.buffer)
    }

    @Test func badGeometryIsRefused() throws {
        #expect(throws: TensorError.self) { try Rope3D.tables(frames: 2, height: 2, width: 2, headDim: 7) }
        #expect(throws: TensorError.self) { try Rope3D.tables(frames: 2, height: 2, width: 2, headDim: 4) }
        #expect(throws: TensorError.self) { try Rope3D.tables(frames: -1, height: 2, width: 2, headDim: 8) }
        #expect(try Rope3D.tables(frames: 0, height: 3, width: 3, headDim: 8).cos.shape == [0, 4])
    }
}
