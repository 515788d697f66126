import Foundation
import Testing
@testable import TensorCore

/// `Tensor.denseMemoryOrder`, `Tensor.inverse` and `Tensor.isWholeBuffer`: which views count as a
/// permuted dense layout (the CUDA backend computes elementwise ops in that order) and which may be
/// returned by `contiguous` without a copy.
@Suite struct DenseLayoutTests {
    func iota(_ shape: [Int]) throws -> Tensor {
        try Tensor.host((0..<shape.reduce(1, *)).map(Float.init), shape: shape)
    }

    @Test func permutedDenseViews() throws {
        let x = try iota([2, 3, 4, 5])
        #expect(x.denseMemoryOrder == nil)   // row-major already
        for order in [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 3, 1]] {
            let p = try x.permuted(order)
            let memory = try #require(p.denseMemoryOrder)
            let dense = try p.permuted(memory)
            #expect(dense.isContiguous)
            #expect(try dense.floats() == x.floats())   // memory order: element i of the buffer
            let back = try dense.permuted(Tensor.inverse(memory))
            #expect(back.shape == p.shape && back.strides == p.strides)
        }
    }

    @Test func notPermutedDense() throws {
        let x = try iota([2, 3, 4])
        #expect(try x.narrowed(dim: 2, start: 0, length: 2).permuted([2, 0, 1]).denseMemoryOrder == nil)   // gap
        #expect(try x.narrowed(dim: 0, start: 1, length: 1).denseMemoryOrder == nil)   // contiguous narrow
        #expect(try Tensor.host([1, 2, 3], shape: [3, 1]).expanded(to: [3, 4]).denseMemoryOrder == nil)   // broadcast
        #expect(try Tensor.hostEmpty([0, 3]).transposed(0, 1).denseMemoryOrder == nil)   // empty
        // A step of 2 over a dense buffer of twice the size is not dense.
        let strided = try Tensor(buffer: x.buffer, dtype: .f32, shape: [3, 4], strides: [1, 6])
        #expect(strided.denseMemoryOrder == nil)
    }

    @Test func unitDimsComeFirst() throws {
        // [B=1, L, H, D] memory viewed as [B, H, L, D], as the CUDA attention outputs are.
        let memory = try iota([1, 6, 4, 8])
        let heads = try memory.permuted([0, 2, 1, 3])
        #expect(heads.strides == [192, 8, 32, 1])
        #expect(heads.denseMemoryOrder == [0, 2, 1, 3])
        let merged = try heads.permuted([0, 2, 1, 3])
        #expect(merged.isContiguous && merged.isWholeBuffer)
        // Size-1 dims anywhere: their strides are never used.
        let unit = try Tensor(buffer: memory.buffer, dtype: .f32, shape: [4, 1, 6, 1, 8], strides: [8, 999, 32, 7, 1])
        let order = try #require(unit.denseMemoryOrder)
        #expect(order == [1, 3, 2, 0, 4])
        #expect(try unit.permuted(order).isContiguous)
        // One head: the permuted view is row-major already.
        let one = try iota([1, 6, 1, 8]).permuted([0, 2, 1, 3])
        #expect(one.isContiguous && one.denseMemoryOrder == nil)
    }

    @Test func inverse() {
        let permutations: [[Int]] = [[0], [1, 0], [2, 0, 1], [0, 2, 1, 3], [3, 1, 0, 2]]
        for p in permutations {
            let q = Tensor.inverse(p)
            for i in p.indices {
                #expect(q[p[i]] == i)
                #expect(p[q[i]] == i)
            }
        }
    }

    @Test func wholeBuffer() throws {
        let x = try iota([4, 6])
        #expect(x.isWholeBuffer)
        #expect(try x.reshaped([24]).isWholeBuffer)
        #expect(try !x.narrowed(dim: 0, start: 0, length: 3).isWholeBuffer)   // contiguous, but part of the buffer
        #expect(try !x.narrowed(dim: 0, start: 1, length: 3).isWholeBuffer)
        #expect(try !x.transposed(0, 1).isWholeBuffer)                         // whole buffer, not row-major
    }
}
