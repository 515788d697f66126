import TensorCore

/// matmulGELU (MatmulGELUOps.swift): GELU(tanh)(a·bᵀ + bias) against its composition on the oracle.
/// CUDA fuses bf16 and f16 products into cuBLASLt's GELU epilogue (one rounding instead of the
/// composition's two, within the dtype's bound); f32 and mixed output types take the composition.
enum MatmulGELUCases {
    static var all: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16, .f16] {
            let bound = dt == .f32 ? 1e-8 : OpCase.defaultBound(dt)
            // The DiT's FFN input (a Linear with bias) at small width; odd sizes; no bias; batched rows.
            for (m, k, n, bias) in [(37, 70, 45, true), (64, 128, 256, true), (19, 40, 24, false)] {
                cases.append(OpCase(op: "matmulGELU", variant: "[\(m),\(k)]·[\(n),\(k)]ᵀ\(bias ? " + bias" : "")", dtype: dt, bound: bound,
                                    inputs: { r in
                                        try [r.tensor([m, k], dt, -2...2), r.tensor([n, k], dt, -0.3...0.3)]
                                            + (bias ? [r.tensor([n], dt, -1...1)] : [])
                                    },
                                    run: { b, x in
                                        try b.matmulGELU(x[0], x[1], transposeB: true, bias: bias ? x[2] : nil, outputType: dt)
                                    }))
            }
            cases.append(OpCase(op: "matmulGELU", variant: "[2,33,64]·[96,64]ᵀ + bias", dtype: dt, bound: bound,
                                inputs: { r in try [r.tensor([2, 33, 64], dt), r.tensor([96, 64], dt, -0.3...0.3), r.tensor([96], dt)] },
                                run: { b, x in try b.matmulGELU(x[0], x[1], transposeB: true, bias: x[2], outputType: dt) }))
        }
        cases.append(OpCase(op: "matmulGELU", variant: "bf16 [21,48]·[40,48]ᵀ + bias → f32 (the composition)", dtype: .bf16,
                            inputs: { r in try [r.tensor([21, 48], .bf16), r.tensor([40, 48], .bf16, -0.3...0.3), r.tensor([40], .bf16)] },
                            run: { b, x in try b.matmulGELU(x[0], x[1], transposeB: true, bias: x[2], outputType: .f32) }))
        return cases
    }
}
