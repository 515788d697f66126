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

    /// quantizedMatmulGELU (the W8A8 FFN input) against the oracle's composition, GELU of each rounded
    /// product: CUDA's Hopper kernels apply it in their epilogue (tails, M above 16, bf16 and f32
    /// output), fewer rows compose. f32 output: the two sides' tanhf may differ by an ulp.
    static let geluProblems: [Problem] = [
        Problem(x: .bf16, xShape: [333, 1100], n: 260, bias: .bf16, outputType: .bf16),
        Problem(x: .bf16, xShape: [2, 150, 256], n: 256, bias: .f32, outputType: .bf16, narrowed: true),
        Problem(x: .f32, xShape: [129, 384], n: 200, bias: .f32, outputType: .f32, fromFloat: true),
        Problem(x: .bf16, xShape: [1, 5, 256], n: 130, bias: .bf16, outputType: .bf16),
    ]

    /// quantizedMatmuls: three products of one x (the DiT's q, k, v; CUDA quantises x once), the
    /// results joined along the last dim for the comparison.
    static var sharedInput: [OpCase] {
        [(DType.bf16, [333, 1100], DType.bf16), (.f32, [2, 100, 300], .f32)].map { (xt, xShape, out) in
            let k = xShape.last!, ns = [260, 128, 75]
            return OpCase(op: "quantizedMatmuls", variant: "\(xShape)·[\(ns.map(String.init).joined(separator: "|")),\(k)]ᵀ → \(out)",
                          dtype: xt, bound: out == .f32 ? 1e-12 : OpCase.defaultBound(out),
                          inputs: { rng in
                              var t = [try rng.tensor(xShape, xt, -2...2)]
                              for (i, n) in ns.enumerated() {
                                  let scaleShape = [(n + 127) / 128, (k + 127) / 128]
                                  t += [try rng.integers([n, k], .i8, -128...127), try rng.tensor(scaleShape, .f32, 1e-3...1e-2),
                                        try rng.tensor([n], i == 1 ? .f32 : out)]
                              }
                              return t
                          },
                          run: { b, x in
                              let products = (0..<3).map { i in
                                  QuantizedProduct(weight: x[1 + 3 * i], scales: x[2 + 3 * i], bias: i == 2 ? nil : x[3 + 3 * i])
                              }
                              return try b.concat(b.quantizedMatmuls(x[0], products, outputType: out), dim: -1)
                          })
        }
    }

    static var all: [OpCase] {
        products + sharedInput + geluProblems.map { p in
            problemCase(p, op: "quantizedMatmulGELU", f32Bound: 1e-10) { b, x, w, s, bias in
                try b.quantizedMatmulGELU(x, weight: w, scales: s, bias: bias, outputType: p.outputType)
            }
        }
    }

    static var products: [OpCase] {
        problems.map { p in
            problemCase(p, op: "quantizedMatmul", f32Bound: 1e-12) { b, x, w, s, bias in
                try b.quantizedMatmul(x, weight: w, scales: s, bias: bias, outputType: p.outputType)
            }
        }
    }

    /// A case of `p` calling `product` with x (narrowed to K columns when `p.narrowed`), the weight,
    /// its scales and the bias; `f32Bound` for f32 output, the dtype's default bound otherwise.
    static func problemCase(_ p: Problem, op: String, f32Bound: Double,
                            _ product: @escaping @Sendable (any Backend, Tensor, Tensor, Tensor, Tensor?) throws -> Tensor) -> OpCase {
        OpCase(op: op, variant: p.name, dtype: p.x,
               bound: p.outputType == .f32 ? f32Bound : OpCase.defaultBound(p.outputType),
               inputs: { rng in try inputs(p, &rng) },
               run: { b, x in
                   let xv = p.narrowed ? try x[0].narrowed(dim: x[0].rank - 1, start: 3, length: p.k) : x[0]
                   return try product(b, xv, x[1], x[2], x.count > 3 ? x[3] : nil)
               })
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
