import TensorCore

/// SLA block map, block-sparse attention and SageSLA's 8-bit sparse branch (docs/dit.md).
///
/// Layouts: plain dense [B, H, L, D] and the DiT's strided view (a dense [B, L, H·D] activation seen
/// as [B, H, L, D] through `reshaped([B, L, H, D]).permuted([0, 2, 1, 3])`). Sequence lengths are not
/// multiples of the blocks (partial last blocks), both upstream block shapes (sla 128/64, sagesla 64/128)
/// appear, and the attention cases take a fixed random block table as input so they do not depend on
/// the block map.
///
/// Bounds:
/// - block map: i32 indices, compared exactly (bound 0). The backends reproduce the CPU's fp32
///   operations in order, so scores are bit-identical and the selection with its tie rule (equal
///   scores: lower block first) must match; one case makes every key block tie.
/// - block-sparse attention: fp32 with free summation order, default bounds.
/// - SageSLA: int8 dot products are exact and every other rounding is reproduced in order; only exp2
///   may differ by an ulp where libm's exp2f is not correctly rounded, which can move a rare fp8
///   rounding of P (a 1/16 change of one probability). 1e-6 leaves room for a few such flips while
///   any systematic error (a wrong scale, rounding mode or fp8 conversion) is far above it.
///   On sm_89+ the CUDA backend runs D = Dv ∈ {64, 128}, blockK ∈ {64, 128} on tensor cores: P
///   and its e4m3 rounding stay identical, but the row sums and P·V are summed in another order and
///   the e4m3 mma sums 32 products in a narrower accumulator (chained over one key block only);
///   emulated with a 13-bit accumulator that costs NMSE ≈ 1e-8, so 1e-6 still holds.
/// - linear branch (`slaLinearState`, `slaLinearApply`): the fused ops against their compositions,
///   default bounds. Both round to T at the same points; fp32 sums in another order can move a
///   rounding by one ulp of T, far below the bf16/f16 bounds.
enum SparseAttentionCases {
    /// [B, H, L, D] from a dense [B, L, H·D] input, as the DiT's self-attention sees q/k/v.
    static func ditView(_ x: Tensor, heads: Int) throws -> Tensor {
        let (b, l, hd) = (x.shape[0], x.shape[1], x.shape[2])
        return try x.reshaped([b, l, heads, hd / heads]).permuted([0, 2, 1, 3])
    }

    /// Sorted distinct key-block indices per (b, h, query block): i32 [B, H, ⌈lq/blockQ⌉, keep].
    static func blockTable(_ rng: inout CaseRandom, b: Int, h: Int, lq: Int, lk: Int, blockQ: Int, blockK: Int,
                           keep: Int) throws -> Tensor {
        let mq = (lq + blockQ - 1) / blockQ, mk = (lk + blockK - 1) / blockK
        var values: [Float] = []
        for _ in 0..<(b * h * mq) {
            var all = Array(0..<mk)
            for i in 0..<keep {
                let j = i + Int(rng.next() % UInt64(mk - i))
                all.swapAt(i, j)
            }
            values += all.prefix(keep).sorted().map { Float($0) }
        }
        return try Tensor.host(values, shape: [b, h, mq, keep], dtype: .i32)
    }

    /// One attention problem: shapes, layout and blocks.
    struct Problem {
        var b = 1, h = 2, lq = 300, lk = 300, d = 64, dv = 64
        var blockQ = 128, blockK = 64, keep = 2
        /// q/k/v as DiT views of [B, L, H·D] (else dense [B, H, L, D]).
        var dit = false

        var keyBlocks: Int { (lk + blockK - 1) / blockK }

        var name: String {
            let layout = dit ? "DiT view [\(b),L,\(h)·D]" : "[\(b),\(h),L,D]"
            let dims = d == dv ? "D=\(d)" : "D=\(d) Dv=\(dv)"
            let lengths = lq == lk ? "L=\(lq)" : "Lq=\(lq) Lk=\(lk)"
            return "\(layout) \(lengths) \(dims) blocks \(blockQ)/\(blockK) keep \(keep)/\(keyBlocks)"
        }

        /// q, k, v host tensors (dense inputs; views are taken by `views`).
        func tensors(_ rng: inout CaseRandom, _ dt: DType) throws -> [Tensor] {
            if dit {
                return [try rng.tensor([b, lq, h * d], dt), try rng.tensor([b, lk, h * d], dt), try rng.tensor([b, lk, h * dv], dt)]
            }
            return [try rng.tensor([b, h, lq, d], dt), try rng.tensor([b, h, lk, d], dt), try rng.tensor([b, h, lk, dv], dt)]
        }

        /// The [B, H, L, D] view of one input.
        func view(_ x: Tensor) throws -> Tensor { dit ? try ditView(x, heads: h) : x }

        func views(_ x: [Tensor]) throws -> (q: Tensor, k: Tensor, v: Tensor) {
            (try view(x[0]), try view(x[1]), try view(x[2]))
        }

        func table(_ rng: inout CaseRandom) throws -> Tensor {
            try blockTable(&rng, b: b, h: h, lq: lq, lk: lk, blockQ: blockQ, blockK: blockK, keep: keep)
        }
    }

    static var all: [OpCase] { blockMapCases + attentionCases + quantizedCases + linearCases }

    // MARK: Block map

    static var blockMapCases: [OpCase] {
        var cases: [OpCase] = []
        let problems: [(Problem, DType)] = [
            (Problem(lq: 300, lk: 300, d: 64, blockQ: 128, blockK: 64, keep: 2), .f32),
            (Problem(h: 3, lq: 300, lk: 300, d: 128, blockQ: 64, blockK: 128, keep: 1, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 77, lk: 77, d: 64, blockQ: 128, blockK: 64, keep: 2, dit: true), .f32),
            (Problem(h: 3, lq: 200, lk: 333, d: 64, blockQ: 64, blockK: 16, keep: 17), .f32),
            (Problem(h: 3, lq: 300, lk: 300, d: 128, blockQ: 128, blockK: 64, keep: 3, dit: true), .f16),
            (Problem(h: 12, lq: 4096, lk: 4096, d: 128, blockQ: 128, blockK: 64, keep: 6, dit: true), .bf16),
            // D not a multiple of 32: CUDA's staged key mean instead of the cp.async ring.
            (Problem(h: 2, lq: 150, lk: 150, d: 40, blockQ: 64, blockK: 32, keep: 2), .f32),
        ]
        for (p, dt) in problems {
            cases.append(OpCase(op: "slaBlockMap", variant: p.name, dtype: dt, bound: 0,
                                inputs: { rng in Array(try p.tensors(&rng, dt).prefix(2)) },
                                run: { b, x in
                                    try b.slaBlockMap(q: p.view(x[0]), k: p.view(x[1]), blockQ: p.blockQ, blockK: p.blockK, keep: p.keep)
                                }))
        }
        // Every key block pools to the same vector (k repeats one block), so all scores tie exactly:
        // the CPU's rule keeps the lowest block indices.
        cases.append(OpCase(op: "slaBlockMap", variant: "all 6 key blocks tie, keep 3 (lowest indices win)", dtype: .f32, bound: 0,
                            inputs: { rng in [try rng.tensor([1, 2, 300, 64]), try rng.tensor([1, 2, 1, 64, 64])] },
                            run: { b, x in
                                let k = try b.contiguous(x[1].expanded(to: [1, 2, 6, 64, 64])).reshaped([1, 2, 384, 64])
                                return try b.slaBlockMap(q: x[0], k: k, blockQ: 128, blockK: 64, keep: 3)
                            }))
        return cases
    }

    // MARK: Block-sparse attention

    static var attentionCases: [OpCase] {
        var cases: [OpCase] = []
        let problems: [(Problem, DType)] = [
            (Problem(lq: 300, lk: 300, d: 64, blockQ: 128, blockK: 64, keep: 2), .f32),
            (Problem(lq: 300, lk: 300, d: 64, blockQ: 128, blockK: 64, keep: 2), .bf16),
            (Problem(h: 3, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 64, blockK: 128, keep: 1, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 77, lk: 77, d: 64, dv: 64, blockQ: 128, blockK: 64, keep: 1, dit: true), .f32),
            (Problem(h: 3, lq: 200, lk: 333, d: 64, dv: 48, blockQ: 64, blockK: 128, keep: 2), .f32),
            (Problem(h: 2, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 3, dit: true), .f16),
            (Problem(h: 2, lq: 4096, lk: 4096, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 6, dit: true), .bf16),
            // The CUDA tensor-core kernel (bf16/f16, D = Dv ∈ {64, 128}, blockQ ∈ {64, 128}, blockK a
            // multiple of 64): partial last query and key blocks, Lq ≠ Lk, keep 1, 128/128.
            (Problem(h: 3, lq: 250, lk: 333, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 3, dit: true), .bf16),
            (Problem(h: 2, lq: 130, lk: 200, d: 64, dv: 64, blockQ: 64, blockK: 64, keep: 1, dit: true), .bf16),
            (Problem(h: 2, lq: 190, lk: 141, d: 128, dv: 128, blockQ: 64, blockK: 64, keep: 2, dit: true), .f16),
            (Problem(b: 2, h: 1, lq: 140, lk: 390, d: 64, dv: 64, blockQ: 128, blockK: 128, keep: 2), .bf16),
            // Hopper's kernel (D = 128, blockQ = 128): 64-key pieces of 128-key blocks, two per tile,
            // the last block partial; and an odd number of pieces (the last tile half empty).
            (Problem(b: 2, h: 1, lq: 140, lk: 390, d: 128, dv: 128, blockQ: 128, blockK: 128, keep: 2), .bf16),
            (Problem(h: 2, lq: 260, lk: 455, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 5), .f16),
            // Block sizes the tensor-core kernel leaves to the CUDA-core one.
            (Problem(h: 2, lq: 150, lk: 150, d: 64, dv: 64, blockQ: 64, blockK: 32, keep: 2, dit: true), .bf16),
        ]
        let scale: Float = 0.125
        for (p, dt) in problems {
            cases.append(OpCase(op: "blockSparseAttention", variant: p.name, dtype: dt,
                                inputs: { rng in try p.tensors(&rng, dt) + [p.table(&rng)] },
                                run: { b, x in
                                    let v = try p.views(x)
                                    return try b.blockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3],
                                                                      blockQ: p.blockQ, blockK: p.blockK, scale: scale)
                                }))
        }
        // Keeping every key block is dense attention.
        for (p, dt) in [(Problem(h: 2, lq: 300, lk: 300, d: 64, blockQ: 128, blockK: 64, keep: 5), DType.f32),
                        (Problem(h: 3, lq: 300, lk: 300, d: 128, blockQ: 64, blockK: 128, keep: 3, dit: true), .bf16),
                        (Problem(h: 2, lq: 333, lk: 333, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 6, dit: true), .bf16)] {
            cases.append(OpCase(op: "blockSparseAttention", variant: "\(p.name) = dense attention", dtype: dt,
                                inputs: { rng in try p.tensors(&rng, dt) + [p.table(&rng)] },
                                run: { b, x in
                                    let v = try p.views(x)
                                    return try b.blockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3],
                                                                      blockQ: p.blockQ, blockK: p.blockK, scale: scale)
                                },
                                reference: { b, x in
                                    let v = try p.views(x)
                                    return try b.attention(q: v.q, k: v.k, v: v.v, scale: scale, bias: nil)
                                }))
        }
        return cases
    }

    // MARK: SageSLA

    static var quantizedCases: [OpCase] {
        let problems: [(Problem, DType)] = [
            (Problem(lq: 300, lk: 300, d: 64, blockQ: 64, blockK: 128, keep: 1), .f32),
            (Problem(h: 3, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 2, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 77, lk: 77, d: 64, dv: 64, blockQ: 64, blockK: 128, keep: 1, dit: true), .f32),
            (Problem(h: 2, lq: 300, lk: 300, d: 128, dv: 128, blockQ: 64, blockK: 128, keep: 3, dit: true), .f32),
            (Problem(h: 3, lq: 200, lk: 333, d: 70, dv: 48, blockQ: 64, blockK: 128, keep: 2), .f32),
            (Problem(h: 2, lq: 300, lk: 300, d: 64, blockQ: 128, blockK: 64, keep: 5), .f16),
            (Problem(h: 2, lq: 4096, lk: 4096, d: 128, dv: 128, blockQ: 64, blockK: 128, keep: 4, dit: true), .bf16),
            // Tensor-core kernel shapes (sm_89+: D = Dv ∈ {64, 128}, blockK ∈ {64, 128}): keep = all, keep = 1,
            // lengths that are not multiples of the blocks, both block shapes, dense and DiT layouts.
            (Problem(h: 2, lq: 333, lk: 333, d: 128, dv: 128, blockQ: 64, blockK: 128, keep: 3, dit: true), .bf16),
            (Problem(h: 2, lq: 250, lk: 390, d: 64, dv: 64, blockQ: 128, blockK: 64, keep: 7, dit: true), .f32),
            (Problem(h: 3, lq: 190, lk: 260, d: 64, dv: 64, blockQ: 64, blockK: 64, keep: 1, dit: true), .bf16),
            (Problem(h: 2, lq: 200, lk: 300, d: 128, dv: 128, blockQ: 128, blockK: 128, keep: 2), .f32),
            (Problem(h: 2, lq: 1000, lk: 1500, d: 128, dv: 128, blockQ: 128, blockK: 64, keep: 5, dit: true), .f32),
        ]
        let scale: Float = 0.125
        return problems.map { p, dt in
            OpCase(op: "quantizedBlockSparseAttention", variant: p.name, dtype: dt, bound: dt == .f32 ? 1e-6 : OpCase.defaultBound(dt),
                   inputs: { rng in try p.tensors(&rng, dt) + [p.table(&rng)] },
                   run: { b, x in
                       let v = try p.views(x)
                       return try b.quantizedBlockSparseAttention(q: v.q, k: v.k, v: v.v, blocks: x[3],
                                                                  blockQ: p.blockQ, blockK: p.blockK, scale: scale)
                   })
        }
    }

    // MARK: Linear branch

    /// kv and Σφ(k) side by side: [B, H, D, Dv + 1].
    static func joined(_ b: any Backend, _ s: (kv: Tensor, kSum: Tensor)) throws -> Tensor {
        try b.concat([s.kv, s.kSum.reshaped(s.kSum.shape + [1])], dim: 3)
    }

    static var linearCases: [OpCase] {
        // (problem, dtype): the fused CUDA kernels take bf16/f16 with D = Dv ∈ {64, 128}; the rest
        // (f32, D = 48) checks the fallback. Token counts are not multiples of the kernels' tiles.
        let problems: [(Problem, DType)] = [
            (Problem(h: 3, lq: 300, lk: 300, d: 128, dv: 128, dit: true), .bf16),
            (Problem(b: 2, h: 2, lq: 77, lk: 77, d: 64, dv: 64), .bf16),
            (Problem(h: 2, lq: 1000, lk: 1000, d: 128, dv: 128, dit: true), .f16),
            (Problem(h: 2, lq: 4096, lk: 4096, d: 128, dv: 128, dit: true), .bf16),
            (Problem(h: 2, lq: 300, lk: 300, d: 64, dv: 64, dit: true), .f32),
            (Problem(h: 2, lq: 130, lk: 130, d: 48, dv: 48), .bf16),
        ]
        var cases: [OpCase] = []
        for (p, dt) in problems {
            let variant = "\(p.dit ? "DiT view" : "dense") B=\(p.b) H=\(p.h) L=\(p.lk) D=\(p.d)"
            cases.append(OpCase(op: "slaLinearState", variant: variant, dtype: dt,
                                inputs: { rng in Array(try p.tensors(&rng, dt).suffix(2)) },
                                run: { b, x in try joined(b, b.slaLinearState(k: p.view(x[0]), v: p.view(x[1]))) },
                                reference: { b, x in try joined(b, b.composedSLALinearState(k: p.view(x[0]), v: p.view(x[1]))) }))
            // kv and Σφ(k) of the size a state over lk tokens has (Σφ(k) sums to lk over channels).
            let perChannel = Float(p.lk) / Float(p.d)
            cases.append(OpCase(op: "slaLinearApply", variant: variant, dtype: dt,
                                inputs: { rng in
                                    [try p.tensors(&rng, dt)[0], try rng.tensor([p.b, p.h, p.d, p.dv], dt, -0.5 * perChannel...0.5 * perChannel),
                                     try rng.tensor([p.b, p.h, p.d], dt, 0.5 * perChannel...1.5 * perChannel)]
                                },
                                run: { b, x in try b.slaLinearApply(q: p.view(x[0]), kv: x[1], kSum: x[2]) },
                                reference: { b, x in try b.composedSLALinearApply(q: p.view(x[0]), kv: x[1], kSum: x[2]) }))
        }
        return cases
    }
}
