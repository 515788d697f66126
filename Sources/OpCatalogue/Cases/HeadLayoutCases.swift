import TensorCore

/// Results whose memory is a permutation of their logical order, and ops consuming them.
///
/// The CUDA attention kernels store into a [B, L, H, D] buffer viewed as [B, H, L, D], and CUDA's
/// binary ops compute in the memory order of a permuted-dense first operand. Layouts are a backend
/// detail; these cases check the logical values of:
/// - attention outputs consumed as the DiT does (`mergeHeads`: `contiguous(o.permuted([0, 2, 1, 3]))`
///   reshaped to [L, H·D]), for the fused, tensor-core and CUDA-core paths, with B > 1;
/// - SLA's `add(sparse, projection)` on an attention output, against a row-major operand (generic
///   kernel) and one in the same permuted layout (dense kernel), then merged;
/// - binary ops on permuted-dense operands: the same permutation (dense kernels), different
///   permutations, one row-major and one permuted in either order, a broadcast row or per-head
///   scale after a permuted operand, a permuted view at a non-zero offset, mixed dtypes.
enum HeadLayoutCases {
    static var all: [OpCase] { attentionMerges + slaSums + binaries }

    /// [B, L, H·D] seen as [B, H, L, D], as the DiT's q/k/v.
    static func heads(_ x: Tensor, _ h: Int) throws -> Tensor {
        try SparseAttentionCases.ditView(x, heads: h)
    }

    /// The DiT's `mergeHeads` over a batch: [B, H, L, D] -> [B, L, H·D].
    static func merge(_ b: any Backend, _ o: Tensor) throws -> Tensor {
        let (nb, nh, l, d) = (o.shape[0], o.shape[1], o.shape[2], o.shape[3])
        return try b.contiguous(o.permuted([0, 2, 1, 3])).reshaped([nb, l, nh * d])
    }

    // MARK: Attention outputs

    static var attentionMerges: [OpCase] {
        var cases: [OpCase] = []
        // (dtype, B, H, Lq, Lk, D): fused bf16/f16 at D = 64 and 128 (fa3 on Hopper at 128, fa2
        // otherwise), B = 2, and f32 (the composed path, row-major output).
        let dense: [(DType, Int, Int, Int, Int, Int)] = [
            (.bf16, 1, 3, 200, 170, 128), (.bf16, 2, 2, 130, 77, 64), (.f16, 2, 3, 150, 150, 128), (.f32, 1, 2, 90, 70, 64),
        ]
        for (dt, nb, h, lq, lk, d) in dense {
            cases.append(OpCase(op: "attention", variant: "DiT views B=\(nb) H=\(h) Lq=\(lq) Lk=\(lk) D=\(d) → merge heads", dtype: dt,
                                inputs: { rng in
                                    [try rng.tensor([nb, lq, h * d], dt, -2...2), try rng.tensor([nb, lk, h * d], dt),
                                     try rng.tensor([nb, lk, h * d], dt)]
                                },
                                run: { b, x in
                                    try merge(b, b.attention(q: heads(x[0], h), k: heads(x[1], h), v: heads(x[2], h),
                                                             scale: 1 / Float(d).squareRoot(), bias: nil))
                                }))
        }
        // Block-sparse and SageSLA: tensor-core shapes (bf16, D = 128, 64/128 and 128/64 blocks) and
        // CUDA-core ones (blockK 32; D = 48), B = 1 and 2.
        typealias Problem = SparseAttentionCases.Problem
        let sparse: [(Problem, DType)] = [
            (Problem(h: 3, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 64, blockK: 128, keep: 2, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 190, lk: 260, d: 64, dv: 64, blockQ: 128, blockK: 64, keep: 2, dit: true), .bf16),
            (Problem(h: 2, lq: 150, lk: 150, d: 64, dv: 64, blockQ: 64, blockK: 32, keep: 2, dit: true), .f16),
            (Problem(b: 2, h: 3, lq: 140, lk: 140, d: 48, dv: 48, blockQ: 64, blockK: 64, keep: 1, dit: true), .f32),
        ]
        for (p, dt) in sparse {
            cases.append(OpCase(op: "blockSparseAttention", variant: "\(p.name) → merge heads", dtype: dt,
                                inputs: { rng in try p.tensors(&rng, dt) + [p.table(&rng)] },
                                run: { b, x in
                                    let v = try p.views(x)
                                    return try merge(b, b.blockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3], blockQ: p.blockQ,
                                                                               blockK: p.blockK, scale: 0.125))
                                }))
            cases.append(OpCase(op: "quantizedBlockSparseAttention", variant: "\(p.name) → merge heads", dtype: dt,
                                bound: dt == .f32 ? 1e-6 : OpCase.defaultBound(dt),
                                inputs: { rng in try p.tensors(&rng, dt) + [p.table(&rng)] },
                                run: { b, x in
                                    let v = try p.views(x)
                                    return try merge(b, b.quantizedBlockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3], blockQ: p.blockQ,
                                                                                        blockK: p.blockK, scale: 0.125))
                                }))
        }
        return cases
    }

    // MARK: SLA's sum

    static var slaSums: [OpCase] {
        typealias Problem = SparseAttentionCases.Problem
        var cases: [OpCase] = []
        let problems: [(Problem, DType)] = [
            (Problem(h: 3, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 2, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 150, lk: 150, d: 64, dv: 64, blockQ: 64, blockK: 128, keep: 1, dit: true), .f32),
        ]
        for (p, dt) in problems {
            for quantized in [false, true] {
                let op = quantized ? "quantizedBlockSparseAttention" : "blockSparseAttention"
                // The projection as the model has it: row-major [B, H, L, D] (a Linear's output), or
                // (second variant) another DiT view, i.e. the same permuted layout as the sparse output.
                for projectionInDiTLayout in [false, true] {
                    let layout = projectionInDiTLayout ? "DiT-layout" : "row-major"
                    cases.append(OpCase(op: op, variant: "\(p.name) + \(layout) [B,H,L,D] → merge heads", dtype: dt,
                                        bound: quantized && dt == .f32 ? 1e-6 : OpCase.defaultBound(dt),
                                        inputs: { rng in
                                            try p.tensors(&rng, dt) + [p.table(&rng),
                                                                        projectionInDiTLayout ? rng.tensor([p.b, p.lq, p.h * p.dv], dt)
                                                                                              : rng.tensor([p.b, p.h, p.lq, p.dv], dt)]
                                        },
                                        run: { b, x in
                                            let v = try p.views(x)
                                            let sparse = quantized
                                                ? try b.quantizedBlockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3], blockQ: p.blockQ,
                                                                                      blockK: p.blockK, scale: 0.125)
                                                : try b.blockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3], blockQ: p.blockQ,
                                                                             blockK: p.blockK, scale: 0.125)
                                            let projection = projectionInDiTLayout ? try heads(x[4], p.h) : x[4]
                                            return try merge(b, b.add(sparse, projection))
                                        }))
                }
            }
        }
        return cases
    }

    // MARK: Binary ops on permuted-dense operands

    /// One binary case: operands built from host inputs by `views` inside `run` (so every backend
    /// sees the same layouts); `merged` consumes the result as the DiT does.
    static func binary(_ op: BinaryOp, _ variant: String, _ dt: DType, _ other: DType, shapes: [[Int]], merged: Bool = false,
                       views: @escaping @Sendable ([Tensor]) throws -> (Tensor, Tensor)) -> OpCase {
        let range: ClosedRange<Float> = op == .div ? 0.5...2 : -2...2
        return OpCase(op: "binary", variant: "\(op) \(variant)\(other == dt ? "" : " (b \(other))")\(merged ? " → merge heads" : "")",
                      dtype: dt,
                      inputs: { rng in [try rng.tensor(shapes[0], dt, range), try rng.tensor(shapes[1], other, range)] },
                      run: { b, x in
                          let (lhs, rhs) = try views(x)
                          let y = try b.binary(op, lhs, rhs)
                          return merged ? try merge(b, y) : y
                      })
    }

    static var binaries: [OpCase] {
        var cases: [OpCase] = []
        let (nb, l, h, d) = (2, 37, 3, 24)
        let memory = [nb, l, h * d], logical = [nb, h, l, d]
        for (dt, other) in [(DType.f32, DType.f32), (.bf16, .bf16), (.f16, .f16), (.bf16, .f32)] {
            for op in [BinaryOp.add, .sub, .mul, .maximum] {
                // Same permutation: CUDA's dense kernels on memory order.
                cases.append(binary(op, "DiT views [\(nb),L,\(h)·D] ⊕ same layout", dt, other, shapes: [memory, memory]) { x in
                    (try heads(x[0], h), try heads(x[1], h))
                })
                cases.append(binary(op, "DiT views [\(nb),L,\(h)·D] ⊕ same layout", dt, other, shapes: [memory, memory], merged: true) { x in
                    (try heads(x[0], h), try heads(x[1], h))
                })
                // One permuted, one row-major, in both orders (the result follows the first).
                cases.append(binary(op, "DiT view ⊕ row-major [B,H,L,D]", dt, other, shapes: [memory, logical], merged: true) { x in
                    (try heads(x[0], h), x[1])
                })
                cases.append(binary(op, "row-major [B,H,L,D] ⊕ DiT view", dt, other, shapes: [logical, memory]) { x in
                    (x[0], try heads(x[1], h))
                })
                // Two different permutations of dense layouts.
                cases.append(binary(op, "DiT view ⊕ [B,D,L,H] permuted", dt, other, shapes: [memory, [nb, d, l, h]]) { x in
                    (try heads(x[0], h), try x[1].permuted([0, 3, 2, 1]))
                })
            }
            // Broadcast second operands after a permuted one: a row (CUDA's row kernel in memory
            // order) and a per-head scale (generic).
            cases.append(binary(.add, "DiT view + row [D]", dt, other, shapes: [memory, [d]]) { x in (try heads(x[0], h), x[1]) })
            cases.append(binary(.mul, "DiT view · per-head [1,H,1,1]", dt, other, shapes: [memory, [1, h, 1, 1]], merged: true) { x in
                (try heads(x[0], h), x[1])
            })
            // A permuted-dense view that starts inside its buffer (batch 1 of 3).
            cases.append(binary(.add, "DiT views of batch 1 of [3,L,\(h)·D] ⊕ same layout", dt, other,
                                shapes: [[3, l, h * d], [3, l, h * d]], merged: true) { x in
                (try heads(x[0].narrowed(dim: 0, start: 1, length: 1), h), try heads(x[1].narrowed(dim: 0, start: 1, length: 1), h))
            })
            // 2-D transposes: the same (dense kernels), and transposed ⊕ row-major.
            cases.append(binary(.div, "[41,33]ᵀ ⊕ [41,33]ᵀ", dt, other, shapes: [[41, 33], [41, 33]]) { x in
                (try x[0].transposed(0, 1), try x[1].transposed(0, 1))
            })
            cases.append(binary(.sub, "[41,33]ᵀ ⊕ row-major [33,41]", dt, other, shapes: [[41, 33], [33, 41]]) { x in
                (try x[0].transposed(0, 1), x[1])
            })
        }
        return cases
    }
}
