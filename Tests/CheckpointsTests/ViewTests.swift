import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Shared storages, strided views and zero-copy mapping.
@Suite struct ViewTests {
    @Test func viewsOfOneStorageShareOneBuffer() throws {
        let c = try Checkpoint.open(path: Fixtures.path("views.pth"))
        let a = try c.tensor("shared_a"), b = try c.tensor("shared_b"), full = try c.tensor("shared_full")
        #expect(a.buffer === b.buffer)
        #expect(a.buffer === full.buffer)
        #expect(a.offset == 2 && b.offset == 12 && full.offset == 0)
        #expect(a.buffer.byteCount == 24 * 4)
        // The views agree with slices of the full storage.
        let all = try full.floats()
        #expect(try a.floats() == Array(all[2 ..< 10]))
        #expect(try b.floats() == Array(all[12 ..< 20]))
    }

    @Test func nonContiguousViewsKeepTheirStrides() throws {
        let c = try Checkpoint.open(path: Fixtures.path("views.pth"))
        let t = try c.tensor("transposed")
        #expect(t.shape == [5, 3] && t.strides == [1, 5] && !t.isContiguous)
        let s = try c.tensor("sliced")
        #expect(s.shape == [4, 3] && s.strides == [6, 2] && !s.isContiguous)
        let e = try c.tensor("expanded")
        #expect(e.strides == [0, 1])
        #expect(try e.int64s() == [0, 1, 2, 0, 1, 2])
        // Transposing back gives the original row-major matrix.
        let back = try t.transposed(0, 1)
        #expect(back.isContiguous)
        #expect(try back.floats() == (try t.floats()).enumerated().sorted { ($0.offset % 3, $0.offset / 3) < ($1.offset % 3, $1.offset / 3) }.map(\.element))
    }

    @Test func tensorsAreZeroCopyViewsOfTheMapping() throws {
        for name in ["all_dtypes.pth", "all_dtypes.safetensors", "zip64.pth"] {
            let c = try Checkpoint.open(path: Fixtures.path(name))
            for t in c.tensors {
                let hb = try t.tensor.hostBuffer()
                #expect(hb.isReadOnly, "\(name) \(t.name) should borrow the file mapping")
            }
        }
    }

    @Test func tensorsOutliveTheCheckpointValue() throws {
        var tensor: Tensor?
        do {
            let c = try Checkpoint.open(path: Fixtures.path("all_dtypes.safetensors"))
            tensor = c["t_i64"]
        }
        #expect(try tensor?.int64s() == [Int64.min, -(1 << 40) - 3, 0, (1 << 53) + 1, Int64.max])
    }

    @Test func parametersAndMetadataBuildAreAccepted() throws {
        let c = try Checkpoint.open(path: Fixtures.path("module_state.pth"))
        #expect(c.names == ["0.weight", "0.bias", "1.weight", "1.bias", "param", "frozen"])
    }
}
