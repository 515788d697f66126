import Foundation
import Testing
@testable import TensorCore

@Suite struct TensorViewTests {
    func iota(_ shape: [Int]) throws -> Tensor {
        try Tensor.host((0..<shape.reduce(1, *)).map(Float.init), shape: shape)
    }

    @Test func reshapePermuteNarrowSelect() throws {
        let x = try iota([2, 3, 4])
        #expect(x.isContiguous)
        let r = try x.reshaped([6, -1])
        #expect(r.shape == [6, 4])
        let p = try x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3] && !p.isContiguous)
        #expect(try p.floats().prefix(6) == [0, 4, 8, 12, 16, 20])
        #expect(throws: TensorError.self) { try p.reshaped([24]) }
        let n = try x.narrowed(dim: 2, start: 1, length: 2)
        #expect(try n.floats() == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        let s = try x.selected(dim: 1, index: 2)
        #expect(s.shape == [2, 4])
        #expect(try s.floats() == [8, 9, 10, 11, 20, 21, 22, 23])
        let t = try x.transposed(-1, 0)
        #expect(t.shape == [4, 3, 2])
        #expect(try x.unsqueezed(1).shape == [2, 1, 3, 4])
        #expect(try x.unsqueezed(-1).shape == [2, 3, 4, 1])
        #expect(try x.unsqueezed(0).squeezed(0).floats() == x.floats())
    }

    @Test func expandBroadcasts() throws {
        let x = try Tensor.host([1, 2, 3], shape: [3, 1])
        let e = try x.expanded(to: [2, 3, 4])
        #expect(e.strides == [0, 1, 0])
        #expect(try e.floats() == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        #expect(try Tensor.broadcastShape([5, 1, 4], [3, 1]) == [5, 3, 4])
        #expect(throws: TensorError.self) { try Tensor.broadcastShape([2, 3], [4]) }
        #expect(throws: TensorError.self) { try x.expanded(to: [2, 2]) }
    }

    @Test func viewsOutsideTheBufferAreRefused() throws {
        let buf = try HostBuffer(byteCount: 16)
        #expect(throws: TensorError.self) { try Tensor(buffer: buf, dtype: .f32, shape: [5]) }
        #expect(throws: TensorError.self) { try Tensor(buffer: buf, dtype: .f32, shape: [2], offset: 3) }
        #expect(throws: TensorError.self) { try Tensor(buffer: buf, dtype: .f32, shape: [2, 2], strides: [3, 1]) }
        _ = try Tensor(buffer: buf, dtype: .f32, shape: [2, 2], strides: [2, 1])
        _ = try Tensor(buffer: buf, dtype: .f32, shape: [0, 100])   // empty views touch nothing
        let x = try Tensor.host([1, 2], shape: [2])
        #expect(throws: TensorError.self) { try x.narrowed(dim: 0, start: 1, length: 2) }
        #expect(throws: TensorError.self) { try x.permuted([0, 0]) }
        #expect(throws: TensorError.self) { try Tensor.host([1, 2, 3], shape: [2]) }
    }

    @Test func hostRoundTripsEveryDType() throws {
        let values: [Float] = [0, 1, -2, 3.5, 100, -128]
        for dt in DType.allCases {
            let t = try Tensor.host(values, shape: [2, 3], dtype: dt)
            let back = try t.floats()
            switch dt {
            case .u8: #expect(back == [0, 1, 254, 3, 100, 128])   // C-style wrap of negatives, truncation
            case .i8, .i32, .i64: #expect(back == [0, 1, -2, 3, 100, -128])
            case .fp8e4m3: #expect(back == [0, 1, -2, 3.5, 96, -128])   // 100 lies midway 96↔104: ties to even
            default: #expect(back == values, "\(dt)")
            }
            #expect(t.byteCount == 6 * dt.byteSize)
        }
        #expect(DType(name: "bfloat16") == .bf16 && DType(name: "float8_e4m3fn") == .fp8e4m3 && DType(name: "q4") == nil)
    }

    @Test func mappedFileIsZeroCopyAndBoundsChecked() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tc-map-\(UUID().uuidString)")
        let floats: [Float] = [1.5, -2, 3, 4]
        try floats.withUnsafeBytes { Data($0) }.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try MappedFile(path: url.path)
        #expect(file.size == 16)
        let buf = try file.buffer(offset: 4, length: 12)
        #expect(buf.isReadOnly)
        #expect(buf.base == UnsafeMutableRawPointer(mutating: file.base + 4))
        let t = try Tensor(buffer: buf, dtype: .f32, shape: [3])
        #expect(try t.floats() == [-2, 3, 4])
        #expect(throws: TensorError.self) { try file.buffer(offset: 8, length: 9) }
        #expect(throws: TensorError.self) { try MappedFile(path: url.path + ".missing") }
        #expect(throws: TensorError.self) { try MappedFile(path: FileManager.default.temporaryDirectory.path) }
    }
}
