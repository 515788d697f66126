import TensorCore

/// The Wan block's fused modulation ops against their compositions (ModulationOps.swift):
/// LN(x)·(1 + scale) + shift rounded to the compute dtype, and the gated residual x + gate·y.
enum ModulationCases {
    static var all: [OpCase] { modulatedLayerNorm + layerNormTo + gatedResidual }

    static var modulatedLayerNorm: [OpCase] {
        var cases: [OpCase] = []
        // (x dtype, output dtype): the block's f32 stream to bf16 or f32, and a bf16 stream.
        for (dt, out) in [(DType.f32, DType.bf16), (.f32, .f32), (.bf16, .bf16), (.f32, .f16)] {
            // Rows of 96 (groups of 4), of 50 (scalar path), and the 1.3B's and the 14B's widths.
            for (rows, cols) in [(77, 96), (33, 50), (130, 1536), (21, 5120)] {
                cases.append(OpCase(op: "modulatedLayerNorm", variant: "[\(rows),\(cols)] scale/shift [1,\(cols)] → \(out)",
                                    dtype: dt, bound: OpCase.defaultBound(out == .f32 ? dt : out),
                                    inputs: { r in
                                        [try r.tensor([rows, cols], dt, -3...3), try r.tensor([1, cols], .f32, -0.5...0.5),
                                         try r.tensor([1, cols], .f32, -0.5...0.5)]
                                    },
                                    run: { b, t in try b.modulatedLayerNorm(t[0], scale: t[1], shift: t[2], eps: 1e-6, outputType: out) },
                                    reference: { b, t in
                                        try b.composedModulatedLayerNorm(t[0], scale: t[1], shift: t[2], eps: 1e-6, outputType: out)
                                    }))
            }
        }
        // A strided stream (rows of a transposed tensor) and scale/shift rows of a [1, 6, C] table.
        cases.append(OpCase(op: "modulatedLayerNorm", variant: "transposed [40,24] → bf16, chunks of [1,6,40]", dtype: .f32,
                            bound: OpCase.defaultBound(.bf16),
                            inputs: { r in [try r.tensor([40, 24], .f32, -3...3), try r.tensor([1, 6, 40], .f32, -0.5...0.5)] },
                            run: { b, t in
                                try b.modulatedLayerNorm(t[0].transposed(0, 1), scale: t[1].selected(dim: 1, index: 1),
                                                         shift: t[1].selected(dim: 1, index: 0), eps: 1e-6, outputType: .bf16)
                            },
                            reference: { b, t in
                                try b.composedModulatedLayerNorm(t[0].transposed(0, 1), scale: t[1].selected(dim: 1, index: 1),
                                                                 shift: t[1].selected(dim: 1, index: 0), eps: 1e-6, outputType: .bf16)
                            }))
        return cases
    }

    /// LayerNorm with its result in another dtype (norm3 of the f32 stream straight to bf16) against
    /// layerNorm then a conversion: with weight and bias, weight only, neither; groups of 4, the
    /// scalar path and the DiT width; a transposed (strided) input.
    static var layerNormTo: [OpCase] {
        var cases: [OpCase] = []
        for (dt, out) in [(DType.f32, DType.bf16), (.f32, .f16), (.bf16, .f32)] {
            for (rows, cols, affine) in [(77, 96, 2), (33, 50, 1), (130, 1536, 2), (19, 64, 0)] {
                cases.append(OpCase(op: "layerNorm", variant: "[\(rows),\(cols)] \(["no affine", "weight", "weight + bias"][affine]) → \(out)",
                                    dtype: dt, bound: OpCase.defaultBound(out == .f32 ? dt : out),
                                    inputs: { r in
                                        [try r.tensor([rows, cols], dt, -3...3), try r.tensor([cols], .f32, 0.5...1.5),
                                         try r.tensor([cols], .f32, -0.5...0.5)]
                                    },
                                    run: { b, t in
                                        try b.layerNorm(t[0], weight: affine > 0 ? t[1] : nil, bias: affine > 1 ? t[2] : nil, eps: 1e-6,
                                                        outputType: out)
                                    },
                                    reference: { b, t in
                                        try b.composedLayerNorm(t[0], weight: affine > 0 ? t[1] : nil, bias: affine > 1 ? t[2] : nil,
                                                                eps: 1e-6, outputType: out)
                                    }))
            }
        }
        cases.append(OpCase(op: "layerNorm", variant: "transposed [40,24] weight + bias → bf16", dtype: .f32, bound: OpCase.defaultBound(.bf16),
                            inputs: { r in [try r.tensor([40, 24], .f32, -3...3), try r.tensor([40], .f32, 0.5...1.5),
                                            try r.tensor([40], .f32, -0.5...0.5)] },
                            run: { b, t in try b.layerNorm(t[0].transposed(0, 1), weight: t[1], bias: t[2], eps: 1e-6, outputType: .bf16) },
                            reference: { b, t in
                                try b.composedLayerNorm(t[0].transposed(0, 1), weight: t[1], bias: t[2], eps: 1e-6, outputType: .bf16)
                            }))
        return cases
    }

    static var gatedResidual: [OpCase] {
        var cases: [OpCase] = []
        for yt in [DType.bf16, .f32, .f16] {
            for (rows, cols) in [(77, 96), (33, 50), (130, 1536)] {
                cases.append(OpCase(op: "gatedResidual", variant: "x f32 [\(rows),\(cols)] + gate [1,\(cols)] · y \(yt)",
                                    dtype: .f32,
                                    inputs: { r in
                                        [try r.tensor([rows, cols], .f32, -3...3), try r.tensor([rows, cols], yt, -3...3),
                                         try r.tensor([1, cols], .f32, -1...1)]
                                    },
                                    run: { b, t in try b.gatedResidual(t[0], t[1], gate: t[2]) },
                                    reference: { b, t in try b.composedGatedResidual(t[0], t[1], gate: t[2]) }))
            }
        }
        // A strided y takes the composition on every backend.
        cases.append(OpCase(op: "gatedResidual", variant: "y transposed [24,40] bf16", dtype: .f32,
                            inputs: { r in
                                [try r.tensor([40, 24], .f32, -3...3), try r.tensor([24, 40], .bf16, -3...3),
                                 try r.tensor([24], .f32, -1...1)]
                            },
                            run: { b, t in try b.gatedResidual(t[0], t[1].transposed(0, 1), gate: t[2]) },
                            reference: { b, t in try b.composedGatedResidual(t[0], t[1].transposed(0, 1), gate: t[2]) }))
        return cases
    }
}
