import BackendCPU
import BackendCUDA
import Testing
import TensorCore

/// Every op the CUDA backend implements, against the CPU backend on the same inputs: fresh
/// seeded random data, outputs poisoned with NaN before the kernels write, strided views and
/// broadcasting. Skipped where no CUDA device is present.
@Suite(.enabled(if: CUDATestSupport.available), .serialized)
struct CUDAParityTests {
    let cpu = CUDATestSupport.cpu

    @Test func poisonedBuffersReadAsNaN() throws {
        // The guard that makes "every element written" checkable: untouched output is NaN.
        let gpu = try CUDATestSupport.gpu
        for dtype in [DType.f32, .bf16, .f16] {
            let t = try gpu.toHost(try gpu.empty([3, 5], dtype: dtype))
            #expect(try t.floats().allSatisfy { $0.isNaN }, "\(dtype)")
        }
    }

    @Test(arguments: [DType.f32, .bf16, .f16, .i8, .i32, .i64])
    func uploadAndDownloadAreExact(dtype: DType) throws {
        let gpu = try CUDATestSupport.gpu
        var rng = SeededRandom(seed: 11)
        let values = dtype.isFloatingPoint ? rng.values(2 * 3 * 37) : rng.values(2 * 3 * 37, -100, 100).map { $0.rounded() }
        let host = try Tensor.host(values, shape: [2, 3, 37], dtype: dtype)
        let back = try gpu.toHost(try gpu.upload(host))
        #expect(try rawBytes(back) == rawBytes(host))
        // A strided host view is gathered before the copy.
        let view = try host.permuted([2, 0, 1]).narrowed(dim: 0, start: 3, length: 30)
        let viewBack = try gpu.toHost(try gpu.upload(view))
        #expect(viewBack.shape == view.shape)
        #expect(try rawBytes(viewBack) == rawBytes(view))
    }

    @Test(arguments: [DType.f32, .bf16, .f16, .i32, .u8])
    func contiguousGathersPermutedViewsExactly(dtype: DType) throws {
        var rng = SeededRandom(seed: 21)
        let values = dtype.isFloatingPoint ? rng.values(6 * 5 * 7 * 4) : rng.values(6 * 5 * 7 * 4, 0, 100).map { $0.rounded() }
        let x = try Pair(values, [6, 5, 7, 4], dtype)
            .map { try $0.permuted([2, 0, 3, 1]).narrowed(dim: 1, start: 1, length: 4) }
        let g = try CUDATestSupport.gpu.contiguous(x.gpu), c = try cpu.contiguous(x.cpu)
        #expect(g.shape == [7, 4, 4, 5] && g.isContiguous)
        #expect(try rawBytes(g) == rawBytes(c))
        // A dense view is copied too.
        let dense = try Pair(values, [6, 5, 7, 4], dtype).map { try $0.narrowed(dim: 0, start: 2, length: 3) }
        #expect(try rawBytes(CUDATestSupport.gpu.contiguous(dense.gpu)) == rawBytes(cpu.contiguous(dense.cpu)))
    }

    static let conversions: [(DType, DType)] = [(.f32, .bf16), (.f32, .f16), (.bf16, .f32), (.f16, .f32), (.bf16, .f16), (.f16, .bf16)]

    @Test(arguments: conversions)
    func contiguousConvertsWithRoundToNearestEven(from: DType, to: DType) throws {
        var rng = SeededRandom(seed: 31)
        // Magnitudes from 1e-7 (f16 subnormals) to 60000, plus exact bf16/f16 ties.
        var values = (0..<(8 * 9 * 10)).map { i -> Float in
            let v = rng.uniform(-1, 1)
            return i % 3 == 0 ? v * 1e-6 : i % 3 == 1 ? v * 6e4 : v
        }
        values[0] = 1 + 0x1p-8
        values[1] = 1 + 3 * 0x1p-8
        values[2] = 1 + 0x1p-11
        values[3] = -(1 + 3 * 0x1p-11)
        let x = try Pair(values, [8, 9, 10], from).map { try $0.transposed(0, 2) }
        let g = try CUDATestSupport.gpu.contiguous(x.gpu, dtype: to), c = try cpu.contiguous(x.cpu, dtype: to)
        #expect(g.dtype == to)
        #expect(try rawBytes(g) == rawBytes(c), "\(from) → \(to)")
    }

    @Test(arguments: UnaryOp.allCases)
    func unaryMatchesCPU(op: UnaryOp) throws {
        for dtype in [DType.f32, .bf16, .f16] {
            var rng = SeededRandom(seed: 41 &+ UInt64(UnaryOp.allCases.firstIndex(of: op)!))
            let values = op == .sqrt || op == .rsqrt ? rng.values(4 * 33 * 9, 0.05, 4) : rng.values(4 * 33 * 9, -4, 4)
            let x = try Pair(values, [4, 33, 9], dtype).map { try $0.permuted([1, 2, 0]) }
            let g = try CUDATestSupport.gpu.unary(op, x.gpu), c = try cpu.unary(op, x.cpu)
            let p = try Parity.measure(g, c, label: "unary \(op) \(dtype)")
            #expect(p.within(elementwiseBound(dtype)), "unary \(op) \(dtype): \(p)")
        }
    }

    @Test func affineMatchesCPU() throws {
        for dtype in [DType.f32, .bf16] {
            var rng = SeededRandom(seed: 51)
            let x = try Pair(rng.values(17 * 130), [17, 130], dtype).map { try $0.transposed(0, 1) }
            let g = try CUDATestSupport.gpu.affine(x.gpu, scale: -1.75, shift: 0.3125)
            let c = try cpu.affine(x.cpu, scale: -1.75, shift: 0.3125)
            let p = try Parity.measure(g, c, label: "affine \(dtype)")
            #expect(p.within(elementwiseBound(dtype)), "affine \(dtype): \(p)")
        }
    }

    @Test(arguments: BinaryOp.allCases)
    func binaryBroadcastsLikeCPU(op: BinaryOp) throws {
        let cases: [(DType, DType)] = [(.f32, .f32), (.bf16, .bf16), (.bf16, .f32), (.f32, .f16)]
        for (ta, tb) in cases {
            var rng = SeededRandom(seed: 61 &+ UInt64(BinaryOp.allCases.firstIndex(of: op)!))
            // a: [4, 1, 6, 8] read through a permutation; b: [5, 1, 8] broadcast over dims 0 and 2.
            let a = try Pair(rng.values(8 * 6 * 4), [8, 6, 1, 4], ta).map { try $0.permuted([3, 2, 1, 0]) }
            let bValues = op == .div ? rng.nonZero(5 * 8) : rng.values(5 * 8)
            let b = try Pair(bValues, [5, 1, 8], tb)
            let g = try CUDATestSupport.gpu.binary(op, a.gpu, b.gpu), c = try cpu.binary(op, a.cpu, b.cpu)
            #expect(g.shape == [4, 5, 6, 8] && g.dtype == ta)
            let p = try Parity.measure(g, c, label: "binary \(op) \(ta)·\(tb)")
            #expect(p.within(elementwiseBound(ta)), "binary \(op) \(ta), \(tb): \(p)")
            // Scalar-like operand on the left, full tensor on the right.
            let s = try Pair([rng.uniform(0.5, 2)], [1], ta)
            let g2 = try CUDATestSupport.gpu.binary(op, s.gpu, b.gpu), c2 = try cpu.binary(op, s.cpu, b.cpu)
            let p2 = try Parity.measure(g2, c2, label: "binary \(op) scalar \(ta)·\(tb)")
            #expect(p2.within(elementwiseBound(ta)), "binary \(op) scalar \(ta), \(tb): \(p2)")
        }
    }

    @Test func softmaxMatchesCPU() throws {
        let shapes: [[Int]] = [[7, 33], [3, 4, 1000], [2, 5000], [5, 1]]
        for dtype in [DType.f32, .bf16] {
            for (i, shape) in shapes.enumerated() {
                var rng = SeededRandom(seed: 71 &+ UInt64(i))
                let count = shape.reduce(1, *)
                let x = try Pair(rng.values(count, -12, 12), shape, dtype)
                let g = try CUDATestSupport.gpu.softmax(x.gpu), c = try cpu.softmax(x.cpu)
                let p = try Parity.measure(g, c, label: "softmax \(shape) \(dtype)")
                #expect(p.within(elementwiseBound(dtype)), "softmax \(shape) \(dtype): \(p)")
            }
            // Over a strided last dimension.
            var rng = SeededRandom(seed: 79)
            let t = try Pair(rng.values(64 * 48, -8, 8), [64, 48], dtype).map { try $0.transposed(0, 1) }
            let p = try Parity.measure(try CUDATestSupport.gpu.softmax(t.gpu), try cpu.softmax(t.cpu), label: "softmax transposed \(dtype)")
            #expect(p.within(elementwiseBound(dtype)), "softmax transposed \(dtype): \(p)")
        }
    }

    struct GemmCase: Sendable, CustomTestStringConvertible {
        var a: [Int], b: [Int], transposeB: Bool, bias: Bool
        var input: DType, inputB: DType, output: DType
        var transposeA = false     // a is given as a transposed (strided) view
        var offsetA = 0            // a starts this many elements into its buffer
        var testDescription: String {
            "\(input)\(a)\(transposeA ? "ᵀview" : "")·\(inputB)\(b)\(transposeB ? "ᵀ" : "")\(bias ? "+bias" : "")→\(output)"
        }
    }

    static let gemmCases: [GemmCase] = [
        GemmCase(a: [65, 96], b: [96, 80], transposeB: false, bias: false, input: .f32, inputB: .f32, output: .f32),
        GemmCase(a: [3, 17, 64], b: [48, 64], transposeB: true, bias: true, input: .f32, inputB: .f32, output: .f32),
        GemmCase(a: [128, 256], b: [192, 256], transposeB: true, bias: true, input: .bf16, inputB: .bf16, output: .bf16),
        GemmCase(a: [2, 3, 40, 64], b: [64, 72], transposeB: false, bias: false, input: .bf16, inputB: .bf16, output: .f32),
        GemmCase(a: [4, 33, 40], b: [4, 40, 24], transposeB: false, bias: false, input: .bf16, inputB: .bf16, output: .bf16),
        GemmCase(a: [4, 33, 40], b: [4, 24, 40], transposeB: true, bias: true, input: .f32, inputB: .f32, output: .f32),
        GemmCase(a: [50, 33], b: [33, 70], transposeB: false, bias: true, input: .bf16, inputB: .f32, output: .f32),
        GemmCase(a: [96, 64], b: [80, 64], transposeB: true, bias: false, input: .bf16, inputB: .bf16, output: .bf16, transposeA: true),
        GemmCase(a: [31, 64], b: [64, 64], transposeB: false, bias: true, input: .f32, inputB: .f32, output: .bf16, offsetA: 3),
        GemmCase(a: [16, 64], b: [64, 32], transposeB: false, bias: false, input: .f16, inputB: .f16, output: .f16),
    ]

    @Test(arguments: gemmCases)
    func matmulMatchesCPU(_ t: GemmCase) throws {
        var rng = SeededRandom(seed: 81 &+ UInt64(t.a.reduce(0, +) * 31 + t.b.reduce(0, +)))
        let aCount = t.a.reduce(1, *)
        var a = try Pair(rng.values(aCount + t.offsetA, -1, 1), [aCount + t.offsetA], t.input)
        a = try a.map { try $0.narrowed(dim: 0, start: t.offsetA, length: aCount) }
        if t.transposeA {
            // Store aᵀ densely and view it back as a: a strided operand.
            var shape = t.a
            shape.swapAt(shape.count - 1, shape.count - 2)
            a = try a.map { try $0.reshaped(shape).transposed(-1, -2) }
        } else {
            a = try a.map { try $0.reshaped(t.a) }
        }
        let b = try Pair(rng.values(t.b.reduce(1, *), -1, 1), t.b, t.inputB)
        let n = t.transposeB ? t.b[t.b.count - 2] : t.b[t.b.count - 1]
        let bias = t.bias ? try Pair(rng.values(n, -1, 1), [n], t.output == .f32 ? .f32 : .bf16) : nil
        let g = try CUDATestSupport.gpu.matmul(a.gpu, b.gpu, transposeB: t.transposeB, bias: bias?.gpu, outputType: t.output)
        let c = try cpu.matmul(a.cpu, b.cpu, transposeB: t.transposeB, bias: bias?.cpu, outputType: t.output)
        let bound = t.input == .f32 && t.inputB == .f32 && t.output == .f32 ? 1e-4 : 1e-2
        let p = try Parity.measure(g, c, label: "matmul \(t.testDescription)")
        #expect(p.within(bound), "matmul \(t.testDescription): \(p)")
    }

    @Test func matmulRejectsMismatchedShapes() throws {
        var rng = SeededRandom(seed: 91)
        let a = try Pair(rng.values(6 * 5), [6, 5], .f32), b = try Pair(rng.values(4 * 7), [4, 7], .f32)
        #expect(throws: TensorError.self) { try CUDATestSupport.gpu.matmul(a.gpu, b.gpu) }
    }

    @Test func unsupportedDtypesSaySo() throws {
        let gpu = try CUDATestSupport.gpu
        let x = try gpu.upload(try Tensor.host([1, 2, 3, 4], shape: [4], dtype: .i32))
        do {
            _ = try gpu.unary(.exp, x)
            Issue.record("exp of i32 should be refused on CUDA")
        } catch let error as TensorError {
            guard case .unsupported(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("i32") && message.contains("bf16"))
        }
    }

    @Test func inputsFromAnotherDeviceAreRejected() throws {
        let host = try Tensor.host([1, 2, 3], shape: [3])
        #expect(throws: TensorError.self) { try CUDATestSupport.gpu.unary(.exp, host) }
    }
}
