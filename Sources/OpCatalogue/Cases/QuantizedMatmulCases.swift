import TensorCore

/// W8A8 matmul (docs/dit.md): x quantised per 128 × 128 block at run time, int8 weights with block scales.
///
/// Shapes cover K and N tails (not multiples of 128, K not a multiple of 16), more K blocks than the
/// CUDA pipeline's stages, M = 1 and a few rows
/// (CUDA's dp4a kernel) as well as M above 16 (its tensor-core kernel), leading batch dims, a strided
/// x, with and without bias, f32/bf16/f16 inputs and f32/bf16 outputs. Weights are random int8 with
/// positive random scales, or a float matrix put through `BlockQuantization.quantize`.
///
/// Bounds: the op is deterministic integer arithmetic plus a fixed sequence of fp32 roundings, which
/// backends reproduce exactly, so results are expected bit-identical (NMSE 0). 1e-12 for f32 output:
/// a single int8 rounding that went the other way moves one term of a dot product by a full step
/// (NMSE ≳ 1e-8 at these sizes), far above it. bf16/f16 outputs are rounded from identical f32 values.
enum QuantizedMatmulCases {
    struct Problem {
        var x: DType
        var xShape: [Int]
        var n: Int
        var bias: DType?
        var outputType: DType
        /// Weights from quantising a random float matrix (else random int8 and random scales).
        var fromFloat = false
        /// x is the first `k` columns of a wider matrix (a strided view).
        var narrowed = false

        var k: Int { xShape.last! }

        var name: String {
            let x = narrowed ? "\(xShape) narrowed" : "\(xShape)"
            let w = fromFloat ? "quantize([\(n),\(k)])" : "i8[\(n),\(k)]"
            let b = bias.map { " + bias \($0)" } ?? ""
            return "\(x)·\(w)ᵀ\(b) → \(outputType)"
        }
    }

    static let problems: [Problem] = [
        Problem(x: .f32, xShape: [300, 300], n: 200, bias: .f32, outputType: .f32),
        Problem(x: .bf16, xShape: [300, 300], n: 200, bias: nil, outputType: .bf16),
        Problem(x: .bf16, xShape: [300, 300], n: 200, bias: .bf16, outputType: .f32),
        Problem(x: .f32, xShape: [1, 300], n: 200, bias: nil, outputType: .f32),
        Problem(x: .bf16, xShape: [1, 300], n: 200, bias: .f32, outputType: .bf16),
        Problem(x: .f16, xShape: [1, 5, 256], n: 130, bias: .bf16, outputType: .bf16),
        Problem(x: .f32, xShape: [17, 77], n: 129, bias: .f32, outputType: .f32),
        Problem(x: .bf16, xShape: [2, 150, 256], n: 256, bias: .f32, outputType: .bf16, narrowed: true),
        Problem(x: .f32, xShape: [129, 384], n: 256, bias: .f32, outputType: .f32, fromFloat: true),
        Problem(x: .bf16, xShape: [512, 1536], n: 512, bias: .bf16, outputType: .bf16, fromFloat: true),
        // More K blocks than CUDA's pipeline stages (its buffers wrap), M, N and K all with tails.
        Problem(x: .bf16, xShape: [333, 1100], n: 260, bias: .bf16, outputType: .bf16),
        Problem(x: .f32, xShape: [2, 100, 1040], n: 300, bias: nil, outputType: .f32),
    ]

    static var all: [OpCase] {
        problems.map { p in
            OpCase(op: "quantizedMatmul", variant: p.name, dtype: p.x,
                   bound: p.outputType == .f32 ? 1e-12 : OpCase.defaultBound(p.outputType),
                   inputs: { rng in try inputs(p, &rng) },
                   run: { b, x in
                       let xv = p.narrowed ? try x[0].narrowed(dim: x[0].rank - 1, start: 3, length: p.k) : x[0]
                       return try b.quantizedMatmul(xv, weight: x[1], scales: x[2], bias: x.count > 3 ? x[3] : nil,
                                                    outputType: p.outputType)
                   })
        }
    }

    /// x (wider by 5 columns when narrowed), weight i8 [N, K], scales f32, bias.
    static func inputs(_ p: Problem, _ rng: inout CaseRandom) throws -> [Tensor] {
        var xShape = p.xShape
        if p.narrowed { xShape[xShape.count - 1] += 5 }
        let x = try rng.tensor(xShape, p.x, -2...2)
        let blk = BlockQuantization.block
        let scaleShape = [(p.n + blk - 1) / blk, (p.k + blk - 1) / blk]
        var result: [Tensor]
        if p.fromFloat {
            var w = [Float](repeating: 0, count: p.n * p.k)
            for i in w.indices { w[i] = rng.uniform(-0.05, 0.05) }
            let (values, scales) = w.withUnsafeBufferPointer { BlockQuantization.quantize($0.baseAddress!, rows: p.n, cols: p.k) }
            result = [x, try Tensor.host(values.map { Float($0) }, shape: [p.n, p.k], dtype: .i8),
                      try Tensor.host(scales, shape: scaleShape)]
        } else {
            result = [x, try rng.integers([p.n, p.k], .i8, -128...127), try rng.tensor(scaleShape, .f32, 1e-3...1e-2)]
        }
        if let bias = p.bias { result.append(try rng.tensor([p.n], bias)) }
        return result
    }
}
