import BackendCPU
import BackendCUDA
import Testing
import TensorCore

/// conv3d with the im2col workspace bounded so tightly that every output is assembled from many
/// chunks (the catalogue's shapes fit one chunk): chunk offsets, a last short chunk, unaligned
/// GEMM operands and both result paths (GEMM into the output, or into an f32 chunk + epilogue).
@Suite(.enabled(if: CUDATestSupport.available), .serialized)
struct CUDAConvolutionTests {
    struct ConvCase: CustomTestStringConvertible, Sendable {
        var x: [Int]
        var o: Int
        var kernel: [Int]
        var stride = [1, 1, 1]
        var padding: [Padding]
        var bias = true
        var input: DType
        var output: DType
        var permuteX = false
        var workspaceBytes: Int

        var testDescription: String {
            "x \(x)\(permuteX ? " permuted" : "") k \(kernel) s \(stride) → \(o) \(input)→\(output)\(bias ? " +bias" : "") ws \(workspaceBytes)"
        }
    }

    static let causal = [Padding(2, 0), Padding(1, 1), Padding(1, 1)]
    static let unpadded = [Padding.none, .none, .none]

    static let cases: [ConvCase] = [
        ConvCase(x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3], padding: causal, input: .bf16, output: .f32, workspaceBytes: 4096),
        ConvCase(x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3], padding: causal, input: .bf16, output: .bf16, workspaceBytes: 4096),
        ConvCase(x: [2, 6, 4, 7, 9], o: 5, kernel: [3, 3, 3], padding: causal, bias: false, input: .f32, output: .f32,
                 permuteX: true, workspaceBytes: 20000),
        ConvCase(x: [1, 6, 5, 7, 6], o: 5, kernel: [3, 1, 1], stride: [2, 1, 1], padding: unpadded, input: .f32, output: .f32,
                 workspaceBytes: 1000),
        ConvCase(x: [2, 9, 2, 15, 17], o: 13, kernel: [1, 1, 1], padding: unpadded, input: .bf16, output: .bf16, workspaceBytes: 3000),
        ConvCase(x: [1, 16, 2, 40, 52], o: 24, kernel: [3, 3, 3], padding: causal, input: .bf16, output: .f32, workspaceBytes: 1 << 20),
        ConvCase(x: [1, 8, 1, 33, 41], o: 12, kernel: [1, 3, 3], stride: [1, 2, 2], padding: [.none, Padding(0, 1), Padding(0, 1)],
                 input: .bf16, output: .bf16, workspaceBytes: 10000),
    ]

    @Test(arguments: cases)
    func chunkedConv3dMatchesCPU(_ t: ConvCase) throws {
        let gpu = try CUDATestSupport.gpu, cpu = CUDATestSupport.cpu
        var rng = SeededRandom(seed: 131 &+ UInt64(t.x.reduce(0, +) * 17 + t.o))
        let stored = t.permuteX ? [t.x[0], t.x[2], t.x[1], t.x[3], t.x[4]] : t.x
        var x = try Pair(rng.values(stored.reduce(1, *), -1, 1), stored, t.input)
        if t.permuteX { x = try x.map { try $0.permuted([0, 2, 1, 3, 4]) } }
        let wShape = [t.o, t.x[1]] + t.kernel
        let w = try Pair(rng.values(wShape.reduce(1, *), -0.3, 0.3), wShape, t.input)
        let bias = t.bias ? try Pair(rng.values(t.o, -1, 1), [t.o], .f32) : nil
        let g = try gpu.conv3d(x.gpu, weight: w.gpu, bias: bias?.gpu, stride: t.stride, padding: t.padding,
                               outputType: t.output, workspaceBytes: t.workspaceBytes)
        let c = try cpu.conv3d(x.cpu, weight: w.cpu, bias: bias?.cpu, stride: t.stride, padding: t.padding, outputType: t.output)
        let bound = t.output == .f32 ? 1e-5 : 1e-2
        let p = try Parity.measure(g, c, label: "conv3d \(t.testDescription)")
        #expect(p.within(bound), "conv3d \(t.testDescription): \(p)")
    }

    /// With cuDNN present the default engine must run the VAE's call (bf16 operands, f32 bias,
    /// f32 result, causal padding) on cuDNN, not fall back, and agree with im2col to f32
    /// summation order (TF32 is exact on bf16 operands).
    @Test(.enabled(if: CUDABackend.cudnnVersion != nil))
    func cudnnRunsTheVAECallAndMatchesIm2col() throws {
        let gpu = try CUDATestSupport.gpu
        var rng = SeededRandom(seed: 23)
        let x = try Pair(rng.values(1 * 32 * 3 * 20 * 26, -1, 1), [1, 32, 3, 20, 26], .bf16)
        let w = try Pair(rng.values(24 * 32 * 27, -0.3, 0.3), [24, 32, 3, 3, 3], .bf16)
        let bias = try Pair(rng.values(24, -1, 1), [24], .f32)
        for padding in [Self.causal, [.none, Padding(1, 1), Padding(1, 1)]] {
            let before = gpu.convolutionRuns.cudnn
            let viaCudnn = try gpu.conv3d(x.gpu, weight: w.gpu, bias: bias.gpu, stride: [1, 1, 1], padding: padding, outputType: .f32)
            let viaIm2col = try gpu.conv3d(x.gpu, weight: w.gpu, bias: bias.gpu, stride: [1, 1, 1], padding: padding, outputType: .f32,
                                           workspaceBytes: CUDABackend.convolutionWorkspaceBytes)
            #expect(gpu.convolutionRuns.cudnn == before + 1, "cuDNN refused: \(gpu.cudnnRefusals)")
            let p = try Parity.measure(viaCudnn, gpu.toHost(viaIm2col), label: "conv3d cuDNN vs im2col \(padding)")
            #expect(p.within(1e-6), "\(p)")
        }
    }

    @Test func conv3dRejectsMismatchedChannels() throws {
        let gpu = try CUDATestSupport.gpu
        var rng = SeededRandom(seed: 7)
        let x = try Pair(rng.values(2 * 3 * 4 * 5), [1, 2, 3, 4, 5], .f32)
        let w = try Pair(rng.values(4 * 3 * 27), [4, 3, 3, 3, 3], .f32)
        #expect(throws: TensorError.self) {
            try gpu.conv3d(x.gpu, weight: w.gpu, bias: nil, stride: [1, 1, 1], padding: Self.causal)
        }
    }
}
