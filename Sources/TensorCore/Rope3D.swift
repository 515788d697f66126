#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// Wan's 3-D rotary position tables. A head of `headDim` has headDim/2 complex slots split
/// into temporal, height and width groups (for 128: 22, 21, 21 slots); slot j of a group with
/// `n` slots turns by position · 10000^(−j/n). Angles are computed in float64 like the reference.
public enum Rope3D {
    /// Slot counts (temporal, height, width) for a head dimension.
    public static func slotSplit(headDim: Int) -> (t: Int, h: Int, w: Int) {
        let hw = headDim / 6             // height and width each get 2·(d/6) dims = d/6 slots
        return ((headDim - 4 * hw) / 2, hw, hw)
    }

    /// cos and sin tables [F·H·W, headDim/2] for tokens in (f, h, w) order, positions from 0.
    /// A token's row is its frame's temporal slots, its row's height slots and its column's width
    /// slots, so each group is evaluated once per position (F·22 + H·21 + W·21 angles for D = 128)
    /// and the rows are assembled by copying: the same float64 angle and rounding per slot as
    /// evaluating every token, at a 1.3B 480p clip's 2.1 M slots ~50× faster (it ran on the host
    /// before every DiT forward while the GPU waited).
    public static func tables(frames: Int, height: Int, width: Int, headDim: Int) throws -> (cos: Tensor, sin: Tensor) {
        guard headDim % 2 == 0, headDim >= 6 else { throw TensorError.invalidArgument("rope head dimension \(headDim) must be even and ≥ 6") }
        guard frames >= 0, height >= 0, width >= 0 else {
            throw TensorError.invalidArgument("rope grid \(frames)×\(height)×\(width) must not be negative")
        }
        let split = slotSplit(headDim: headDim)
        let half = headDim / 2
        // [positions, n] tables of one group: slot j of position p turns by p · 10000^(−j/n).
        func group(_ positions: Int, _ n: Int) -> (cos: [Float], sin: [Float]) {
            let freqs = (0..<n).map { j in 1 / pow(10000.0, Double(2 * j) / Double(2 * n)) }
            var c = [Float](repeating: 0, count: positions * n), s = c
            for p in 0..<positions {
                for (j, theta) in freqs.enumerated() {
                    let angle = Double(p) * theta
                    c[p * n + j] = Float(Glibc.cos(angle))
                    s[p * n + j] = Float(Glibc.sin(angle))
                }
            }
            return (c, s)
        }
        let gt = group(frames, split.t), gh = group(height, split.h), gw = group(width, split.w)
        let count = frames * height * width
        var cosV = [Float](repeating: 0, count: count * half), sinV = cosV
        // Row (f, y, x) = group rows f, y and x side by side. (count > 0: every group has positions.)
        func assemble(_ out: inout [Float], _ t: [Float], _ h: [Float], _ w: [Float]) {
            guard count > 0 else { return }
            out.withUnsafeMutableBufferPointer { o in
                t.withUnsafeBufferPointer { tp in
                    h.withUnsafeBufferPointer { hp in
                        w.withUnsafeBufferPointer { wp in
                            var row = o.baseAddress!
                            for f in 0..<frames {
                                for y in 0..<height {
                                    for x in 0..<width {
                                        row.update(from: tp.baseAddress! + f * split.t, count: split.t)
                                        (row + split.t).update(from: hp.baseAddress! + y * split.h, count: split.h)
                                        (row + split.t + split.h).update(from: wp.baseAddress! + x * split.w, count: split.w)
                                        row += half
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assemble(&cosV, gt.cos, gh.cos, gw.cos)
        assemble(&sinV, gt.sin, gh.sin, gw.sin)
        return (try Tensor.host(cosV, shape: [count, half]), try Tensor.host(sinV, shape: [count, half]))
    }
}

/// `Rope3D.tables` of the most recent grid, returned again for the next call with the same grid: a
/// generation's DiT steps all ask for one grid, so its tables are built once instead of before every
/// forward. One entry (a new grid replaces it); safe from several threads. The host tensors are
/// shared, never written.
///
/// `deviceTables` keeps the rows a forward uploads as well, for the backend they went to, so the
/// steps after the first upload nothing (16 MB per step at 480p). The device copy lives as long as
/// the cache's owner (a model) or until another grid, row range or backend replaces it; a forward
/// holds the same tables while it runs, so keeping them between forwards does not raise its peak.
public final class RopeTableCache: @unchecked Sendable {
    private let lock = Lock()
    private var key: [Int] = []
    private var entry: (cos: Tensor, sin: Tensor)?
    private var deviceKey: (grid: [Int], rows: Range<Int>, backend: ObjectIdentifier)?
    private var deviceEntry: (cos: Tensor, sin: Tensor)?

    public init() {}

    public func tables(frames: Int, height: Int, width: Int, headDim: Int) throws -> (cos: Tensor, sin: Tensor) {
        let grid = [frames, height, width, headDim]
        if let hit = lock.withLock({ key == grid ? entry : nil }) { return hit }
        let built = try Rope3D.tables(frames: frames, height: height, width: width, headDim: headDim)
        lock.withLock {
            key = grid
            entry = built
        }
        return built
    }

    /// Rows `rows` of the grid's tables on `backend` (its object identity is part of the key).
    public func deviceTables(frames: Int, height: Int, width: Int, headDim: Int, rows: Range<Int>,
                             on backend: any Backend) throws -> (cos: Tensor, sin: Tensor) {
        let grid = [frames, height, width, headDim], id = ObjectIdentifier(backend)
        if let hit = lock.withLock({ () -> (cos: Tensor, sin: Tensor)? in
            guard let k = deviceKey, k.grid == grid, k.rows == rows, k.backend == id else { return nil }
            return deviceEntry
        }) { return hit }
        let host = try tables(frames: frames, height: height, width: width, headDim: headDim)
        func upload(_ t: Tensor) throws -> Tensor { try backend.upload(t.narrowed(dim: 0, start: rows.lowerBound, length: rows.count)) }
        let uploaded = (cos: try upload(host.cos), sin: try upload(host.sin))
        lock.withLock {
            deviceKey = (grid, rows, id)
            deviceEntry = uploaded
        }
        return uploaded
    }
}
