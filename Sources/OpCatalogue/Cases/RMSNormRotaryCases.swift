import TensorCore

/// rmsNormRotary (RMSNormRotaryOps.swift), the self-attention's q/k RMSNorm then RoPE, against its
/// composition on the oracle, and the fused path against the composition on the backend itself,
/// which must agree exactly ("fused − composed" cases, whose reference is zero).
enum RMSNormRotaryCases {
    static var all: [OpCase] { [DType.f32, .bf16, .f16].flatMap { againstTheOracle($0) + exact($0) } }

    /// (prefix dims, L, heads, D, what the shape exercises).
    static let shapes: [(prefix: [Int], length: Int, heads: Int, headDim: Int, note: String)] = [
        ([], 33, 12, 128, "the DiT's width 1536, odd L (groups of 4, row cached)"),
        ([], 9, 40, 128, "the 14B's width 5120 (a block per row; a warp per row, not cached, with candidates)"),
        ([], 77, 2, 64, "head dim 64"),
        ([], 19, 3, 6, "D 6 (odd D/2), width 18 (one element at a time)"),
        ([2], 9, 5, 10, "batch of 2, width 50"),
    ]

    /// x [prefix…, L, heads·D], weight [heads·D] in x's dtype, f32 tables [L, D/2].
    static func inputs(_ r: inout CaseRandom, _ dt: DType, prefix: [Int], length: Int, heads: Int, headDim: Int) throws -> [Tensor] {
        let c = heads * headDim
        return try [r.tensor(prefix + [length, c], dt, -3...3), r.tensor([c], dt, -1.5...1.5)]
            + LayoutNormCases.rotaryTables(&r, length, headDim / 2)
    }

    static func label(_ s: (prefix: [Int], length: Int, heads: Int, headDim: Int, note: String)) -> String {
        "x \(s.prefix + [s.length, s.heads * s.headDim]) as \(s.heads)×\(s.headDim): \(s.note)"
    }

    static func againstTheOracle(_ dt: DType) -> [OpCase] {
        var cases = shapes.map { s in
            OpCase(op: "rmsNormRotary", variant: label(s), dtype: dt,
                   inputs: { r in try inputs(&r, dt, prefix: s.prefix, length: s.length, heads: s.heads, headDim: s.headDim) },
                   run: { b, t in try b.rmsNormRotary(t[0], weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: s.heads) },
                   reference: { b, t in try b.composedRMSNormRotary(t[0], weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: s.heads) })
        }
        // Strided x: rows of a transposed [C, L], and rows narrowed at an odd offset; no weight;
        // f16 tables.
        cases.append(OpCase(op: "rmsNormRotary", variant: "x transposed [128,21]→[21,128], 2×64", dtype: dt,
                            inputs: { r in try [r.tensor([128, 21], dt, -3...3), r.tensor([128], dt, -1.5...1.5)] + LayoutNormCases.rotaryTables(&r, 21, 32) },
                            run: { b, t in try b.rmsNormRotary(t[0].transposed(0, 1), weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: 2) },
                            reference: { b, t in
                                try b.composedRMSNormRotary(t[0].transposed(0, 1), weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: 2)
                            }))
        cases.append(OpCase(op: "rmsNormRotary", variant: "x narrowed [15,130]→[15,128] (odd offset), no weight, 4×32", dtype: dt,
                            inputs: { r in try [r.tensor([15, 130], dt, -3...3)] + LayoutNormCases.rotaryTables(&r, 15, 16) },
                            run: { b, t in
                                try b.rmsNormRotary(t[0].narrowed(dim: 1, start: 1, length: 128), weight: nil, eps: 1e-6, cos: t[1], sin: t[2], heads: 4)
                            },
                            reference: { b, t in
                                try b.composedRMSNormRotary(t[0].narrowed(dim: 1, start: 1, length: 128), weight: nil, eps: 1e-6,
                                                            cos: t[1], sin: t[2], heads: 4)
                            }))
        cases.append(OpCase(op: "rmsNormRotary", variant: "[11,96] × 3×32, f16 tables", dtype: dt,
                            inputs: { r in
                                let t = try inputs(&r, dt, prefix: [], length: 11, heads: 3, headDim: 32)
                                return [t[0], t[1], try Tensor.host(t[2].floats(), shape: t[2].shape, dtype: .f16),
                                        try Tensor.host(t[3].floats(), shape: t[3].shape, dtype: .f16)]
                            },
                            run: { b, t in try b.rmsNormRotary(t[0], weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: 3) },
                            reference: { b, t in try b.composedRMSNormRotary(t[0], weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: 3) }))
        return cases
    }

    /// The fused op minus the composition on the backend under test: zero exactly when the fused
    /// kernel reproduces the composition's statistics and roundings.
    static func exact(_ dt: DType) -> [OpCase] {
        let layouts: [(name: String, length: Int, heads: Int, headDim: Int, transposed: Bool)] = [
            ("[33,1536] 12×128", 33, 12, 128, false),
            ("[19,18] 3×6", 19, 3, 6, false),
            ("transposed [128,21]→[21,128] 2×64", 21, 2, 64, true),
        ]
        return layouts.map { (name, length, heads, headDim, transposed) in
            let c = heads * headDim
            return OpCase(op: "rmsNormRotary", variant: "fused − composed on the backend (exact), \(name)", dtype: dt,
                          inputs: { r in
                              try [r.tensor(transposed ? [c, length] : [length, c], dt, -3...3), r.tensor([c], dt, -1.5...1.5)]
                                  + LayoutNormCases.rotaryTables(&r, length, headDim / 2)
                          },
                          run: { b, t in
                              let x = transposed ? try t[0].transposed(0, 1) : t[0]
                              let fused = try b.rmsNormRotary(x, weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: heads)
                              let composed = try b.composedRMSNormRotary(x, weight: t[1], eps: 1e-6, cos: t[2], sin: t[3], heads: heads)
                              return try b.binary(.sub, fused, composed)
                          },
                          reference: { _, _ in
                              try Tensor.host([Float](repeating: 0, count: length * c), shape: [length, heads, headDim], dtype: dt)
                          })
        }
    }
}
