import Foundation
import Testing
import TensorCore
@testable import BackendCPU

/// The VAE's extra ops: conv3d with implicit-im2col packing (rows wide enough for the 16-column
/// copy path, borders, strides, bf16 operands, f32/bf16 results) and the fused norm + SiLU.
@Suite struct VAEOpsTests {
    let cpu = CPUBackend()

    /// Direct loop in double over the (widened) operands.
    func reference(_ x: Tensor, _ wt: Tensor, _ bias: Tensor?, stride: [Int], padding: [Padding], outShape: [Int]) throws -> [Double] {
        let xv = try x.floats(), wv = try wt.floats(), bv = try bias?.floats()
        let (c, t, h, w) = (x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let k = Array(wt.shape[2...])
        var ref = [Double](repeating: 0, count: outShape.reduce(1, *))
        for i in 0..<ref.count {
            let idx = multiIndex(i, outShape)
            var s = Double(bv?[idx[1]] ?? 0)
            for ci in 0..<c { for a in 0..<k[0] { for bb in 0..<k[1] { for cc in 0..<k[2] {
                let z = idx[2] * stride[0] - padding[0].before + a
                let yy = idx[3] * stride[1] - padding[1].before + bb
                let xx = idx[4] * stride[2] - padding[2].before + cc
                guard z >= 0, z < t, yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                s += Double(xv[linearIndex([idx[0], ci, z, yy, xx], x.shape)]) * Double(wv[linearIndex([idx[1], ci, a, bb, cc], wt.shape)])
            } } } }
            ref[i] = s
        }
        return ref
    }

    @Test(arguments: [([1, 1, 1], [Padding(2, 0), Padding(1, 1), Padding(1, 1)], [3, 3, 3], 37),   // causal 3×3×3, row + wrapped panels
                      ([1, 1, 1], [Padding(1, 0), Padding(1, 1), Padding(1, 1)], [3, 3, 3], 32),   // exact row multiple, one cached frame
                      ([1, 2, 2], [.none, Padding(0, 1), Padding(0, 1)], [1, 3, 3], 40),           // downsampler: stride 2 in the row path
                      ([2, 1, 1], [.none, .none, .none], [3, 1, 1], 19)])                          // temporal stride 2
    func convMatchesDirectLoop(stride: [Int], padding: [Padding], kernel: [Int], width: Int) throws {
        var rng = SeededGenerator(seed: UInt64(width))
        let x = try randomTensor([2, 2, 4, 3, width], &rng)
        let wt = try randomTensor([3, 2] + kernel, &rng)
        let bias = try randomTensor([3], &rng)
        let y = try cpu.conv3d(x, weight: wt, bias: bias, stride: stride, padding: padding)
        let ref = try reference(x, wt, bias, stride: stride, padding: padding, outShape: y.shape)
        #expect(relativeError(try y.floats(), ref) < 1e-6)
        // A strided input view (frames 1..<4 of a longer clip) reads the same values.
        let clip = try randomTensor([1, 2, 6, 3, width], &rng)
        let view = try clip.narrowed(dim: 2, start: 1, length: 4)
        let yv = try cpu.conv3d(view, weight: wt, bias: nil, stride: stride, padding: padding)
        #expect(relativeError(try yv.floats(), try reference(view, wt, nil, stride: stride, padding: padding, outShape: yv.shape)) < 1e-6)
    }

    @Test func bf16OperandsWithF32AndBF16Results() throws {
        var rng = SeededGenerator(seed: 5)
        let x = try randomTensor([1, 3, 3, 3, 33], &rng, dtype: .bf16)
        let wt = try randomTensor([4, 3, 3, 3, 3], &rng, dtype: .bf16)
        let bias = try randomTensor([4], &rng)
        let padding = [Padding(2, 0), Padding(1, 1), Padding(1, 1)]
        let y32 = try cpu.conv3d(x, weight: wt, bias: bias, stride: [1, 1, 1], padding: padding, outputType: .f32)
        #expect(y32.dtype == .f32)
        let ref = try reference(x, wt, bias, stride: [1, 1, 1], padding: padding, outShape: y32.shape)
        #expect(relativeError(try y32.floats(), ref) < 1e-6)
        let y16 = try cpu.conv3d(x, weight: wt, bias: bias, stride: [1, 1, 1], padding: padding, outputType: .bf16)
        #expect(y16.dtype == .bf16)
        let expected16 = try y32.floats().map { BF16.float(BF16.bits($0)) }
        #expect(try y16.floats() == expected16)
        // Pointwise kernels read a bf16 input directly too.
        let w1 = try randomTensor([4, 3, 1, 1, 1], &rng)
        let p = try cpu.conv3d(x, weight: w1, bias: nil, stride: [1, 1, 1], padding: [.none, .none, .none], outputType: .f32)
        #expect(relativeError(try p.floats(), try reference(x, w1, nil, stride: [1, 1, 1], padding: [.none, .none, .none], outShape: p.shape)) < 1e-6)
    }

    @Test func fusedNormSiLUEqualsComposition() throws {
        var rng = SeededGenerator(seed: 6)
        let x = try randomTensor([7, 3, 5, 41], &rng)
        let gamma = try randomTensor([7, 1, 1, 1], &rng)
        let bias = try randomTensor([7, 1, 1, 1], &rng)
        let composed = try cpu.unary(.silu, cpu.l2Norm(x, dim: 0, gamma: gamma, bias: bias, eps: 1e-12)).floats()
        let fused = try cpu.l2NormSiLU(x, gamma: gamma, bias: bias, eps: 1e-12, outputType: .f32)
        #expect(relativeError(try fused.floats(), composed) < 1e-6)
        // bf16 in and out: one rounding of the f32 result (within one bf16 step: the f32 loop may
        // use a vectorised expf that differs from the scalar one in the last bits).
        let xb = try cpu.contiguous(x, dtype: .bf16)
        let exact = try cpu.l2NormSiLU(cpu.contiguous(xb, dtype: .f32), gamma: gamma, bias: nil, eps: 1e-12, outputType: .f32).floats()
        let rounded = try cpu.l2NormSiLU(xb, gamma: gamma, bias: nil, eps: 1e-12, outputType: .bf16)
        #expect(rounded.dtype == .bf16)
        let rv = try rounded.floats()
        for (r, e) in zip(rv, exact) {
            #expect(r == BF16.float(BF16.bits(r)) && abs(r - e) <= abs(e) * 0x1p-8 + 1e-30)
        }
    }
}
