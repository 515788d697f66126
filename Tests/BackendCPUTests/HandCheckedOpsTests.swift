import Testing
import TensorCore
@testable import BackendCPU

/// Small cases whose answers were worked out by hand (or are textbook values).
@Suite struct HandCheckedOpsTests {
    let cpu = CPUBackend()

    @Test func softmaxOfOneTwoThree() throws {
        let y = try cpu.softmax(Tensor.host([1, 2, 3], shape: [1, 3])).floats()
        #expect(close(y, [0.090_030_57, 0.244_728_47, 0.665_240_96]))
    }

    @Test func activations() throws {
        let x = try Tensor.host([1, -1, 0], shape: [3])
        #expect(close(try cpu.unary(.geluTanh, x).floats(), [0.841_192, -0.158_808, 0]))
        #expect(close(try cpu.unary(.geluErf, x).floats(), [0.841_344_7, -0.158_655_3, 0]))
        #expect(close(try cpu.unary(.silu, x).floats(), [0.731_058_6, -0.268_941_4, 0]))
    }

    @Test func layerAndRmsNorm() throws {
        let ln = try cpu.layerNorm(Tensor.host([1, 2, 3, 4], shape: [1, 4]), weight: nil, bias: nil, eps: 0).floats()
        #expect(close(ln, [-1.341_640_8, -0.447_213_6, 0.447_213_6, 1.341_640_8]))
        let w = try Tensor.host([1, 2], shape: [2])
        let rms = try cpu.rmsNorm(Tensor.host([3, 4], shape: [1, 2]), weight: w, eps: 0).floats()
        #expect(close(rms, [0.848_528_1, 2 * 1.131_370_8]))
        // VAE form: [3, 4] over channels has norm 5; times √2.
        let l2 = try cpu.l2Norm(Tensor.host([3, 4], shape: [1, 2, 1]), dim: 1, gamma: nil, bias: nil, eps: 1e-12).floats()
        #expect(close(l2, [0.6 * 2.0.squareRoot(), 0.8 * 2.0.squareRoot()].map(Float.init)))
    }

    @Test func conv2dWithOnesKernel() throws {
        let x = try Tensor.host((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let w = try Tensor.host([1, 1, 1, 1], shape: [1, 1, 2, 2])
        let y = try cpu.conv2d(x, weight: w, bias: Tensor.host([0.5], shape: [1]), stride: [1, 1], padding: [.none, .none])
        #expect(y.shape == [1, 1, 2, 2])
        #expect(try y.floats() == [12.5, 16.5, 24.5, 28.5])
        // Pad (0,1,0,1) then stride 2, as the VAE downsampler does.
        let z = try cpu.conv2d(x, weight: w, bias: nil, stride: [2, 2], padding: [Padding(0, 1), Padding(0, 1)])
        #expect(z.shape == [1, 1, 2, 2])
        #expect(try z.floats() == [12, 9, 15, 9])
    }

    @Test func upsampleConcatPad() throws {
        let x = try Tensor.host([1, 2, 3, 4], shape: [1, 2, 2])
        let up = try cpu.upsampleNearest(x, scaleH: 2, scaleW: 2)
        #expect(up.shape == [1, 4, 4])
        #expect(try up.floats() == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        let c = try cpu.concat([x, Tensor.host([5, 6], shape: [1, 1, 2])], dim: 1)
        #expect(c.shape == [1, 3, 2])
        #expect(try c.floats() == [1, 2, 3, 4, 5, 6])
        let p = try cpu.pad(x, [Padding(1, 0), Padding(0, 1)], value: -1)
        #expect(p.shape == [1, 3, 3])
        #expect(try p.floats() == [-1, -1, -1, 1, 2, -1, 3, 4, -1])
    }

    @Test func matmulSmall() throws {
        let a = try Tensor.host([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let w = try Tensor.host([1, 0, 1, 0, 1, 0], shape: [2, 3])   // Linear weight [N=2, K=3]
        let y = try cpu.matmul(a, w, transposeB: true, bias: Tensor.host([10, 20], shape: [2]), outputType: .f32)
        #expect(try y.floats() == [14, 22, 20, 25])
    }

    @Test func bf16CastRoundsToNearestEven() throws {
        let x = try Tensor.host([1 + 0x1p-8, 1 + 3 * 0x1p-8, -0.0, 3.14159], shape: [4])
        let y = try cpu.contiguous(x, dtype: .bf16)
        #expect(y.dtype == .bf16)
        #expect(try y.floats() == [1, 1 + 0x1p-6, 0, BF16.round(3.14159)])
    }

    @Test func int64SurvivesCopies() throws {
        let big: Int64 = (1 << 53) + 1   // not representable in Float
        let x = try Tensor.host(int64: [big, -7, 3, 4], shape: [2, 2])
        let y = try cpu.contiguous(x.transposed(0, 1))
        #expect(try y.int64s() == [big, 3, -7, 4])
    }

    @Test func errorsNameTheProblem() throws {
        let a = try Tensor.host([1, 2, 3], shape: [3])
        let b = try Tensor.host([1, 2], shape: [2])
        #expect(throws: TensorError.shapeMismatch("shapes [3] and [2] do not broadcast")) { try cpu.add(a, b) }
        let m = try Tensor.host([1, 2, 3, 4], shape: [2, 2])
        let e = #expect(throws: TensorError.self) { try cpu.matmul(m, Tensor.host([1, 2, 3], shape: [3, 1])) }
        #expect("\(e!)".contains("inner sizes 2 and 3"))
    }
}
