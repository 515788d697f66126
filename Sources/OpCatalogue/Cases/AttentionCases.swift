import TensorCore

/// Dense attention in the models' layouts. On CUDA, bf16/f16 cases with D = Dv ∈ {64, 128} and no
/// bias take the fused flash kernel; f32, a bias (a [1] zero bias forces it) and other head sizes
/// take the composed path (cuBLASLt scores, fp32 softmax, fp32 P·V).
enum AttentionCases {
    /// How q, k and v lie in memory.
    enum Layout {
        /// [B, H, L, D], dense.
        case dense
        /// The DiT's head split: [B, L, H·D] viewed as [B, L, H, D] and permuted to [B, H, L, D]
        /// (D contiguous, L stride H·D, head stride D).
        case heads
        /// The VAE's middle attention: one [B, 1, L, 3·D] tensor narrowed into q, k, v (H = 1, Lq = Lk, D = Dv).
        case packed
    }

    enum Bias {
        case none
        /// [1, H, Lq, Lk] random, broadcast over B (T5's relative position bias).
        case full
        /// [1, 1, Lq, Lk] random with a large negative in every 7th key column (T5's key padding mask), as a
        /// stride-0 view expanded to [B, H, Lq, Lk].
        case masked
        /// A [1] zero bias: the math of `none`, but the composed path on CUDA.
        case zero
    }

    static var all: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16, .f16] {
            // Fused on CUDA for bf16/f16, composed for f32: odd lengths, partial tiles, B > 1.
            cases.append(make(dt, b: 2, h: 3, lq: 77, lk: 93, d: 64, layout: .heads))
            cases.append(make(dt, b: 2, h: 3, lq: 77, lk: 93, d: 128, layout: .dense))
            cases.append(make(dt, b: 1, h: 3, lq: 300, lk: 513, d: 128, layout: .heads))
            cases.append(make(dt, b: 1, h: 2, lq: 300, lk: 513, d: 64, layout: .dense))
            // DiT cross-attention: 512 text rows.
            cases.append(make(dt, b: 1, h: 2, lq: 1000, lk: 512, d: 128, layout: .heads, note: "cross-attention"))
            // Composed path: bias (T5), masked expanded bias, other head sizes.
            cases.append(make(dt, b: 2, h: 3, lq: 77, lk: 93, d: 64, layout: .heads, bias: .full))
            cases.append(make(dt, b: 1, h: 4, lq: 61, lk: 61, d: 64, layout: .heads, bias: .masked, scale: 1, note: "T5"))
            cases.append(make(dt, b: 2, h: 3, lq: 45, lk: 70, d: 48, dv: 72, layout: .dense))
        }
        for dt in [DType.bf16, .f16] {
            // The composed path on the fused kernel's shapes (zero bias), and the fused kernel against
            // an oracle that runs the biased (composed) computation.
            cases.append(make(dt, b: 2, h: 3, lq: 77, lk: 93, d: 128, layout: .heads, bias: .zero))
            cases.append(make(dt, b: 1, h: 3, lq: 300, lk: 513, d: 64, layout: .heads, zeroBiasReference: true))
            cases.append(make(dt, b: 1, h: 3, lq: 300, lk: 513, d: 128, layout: .heads, zeroBiasReference: true))
            // Short sequences: a single partial tile each way.
            cases.append(make(dt, b: 1, h: 2, lq: 5, lk: 3, d: 64, layout: .dense))
        }
        for dt in [DType.f32, .bf16] {
            // VAE middle attention: one head, D = 384, L = H·W of a frame, q/k/v narrowed from one tensor.
            cases.append(make(dt, b: 2, h: 1, lq: 315, lk: 315, d: 384, layout: .packed, note: "VAE"))
        }
        cases.append(make(.bf16, b: 1, h: 2, lq: 2048, lk: 2048, d: 128, layout: .heads, note: "large"))
        return cases
    }

    /// A case of `attention(q:k:v:scale:bias:)`; scale defaults to 1/√D. q values are in [-2, 2],
    /// k and v in [-1, 1], so scores spread over a few units and the softmax is not flat.
    static func make(_ dt: DType, b: Int, h: Int, lq: Int, lk: Int, d: Int, dv: Int? = nil, layout: Layout,
                     bias: Bias = .none, scale: Float? = nil, note: String? = nil, zeroBiasReference: Bool = false) -> OpCase {
        let dv = dv ?? d
        let scale = scale ?? 1 / Float(d).squareRoot()
        let layoutName = switch layout {
        case .dense: "dense"
        case .heads: "[B,L,H·D] heads view"
        case .packed: "narrowed from [B,1,L,3·D]"
        }
        let biasName = switch bias {
        case .none: ""
        case .full: ", bias [1,H,Lq,Lk]"
        case .masked: ", masked bias [1,1,Lq,Lk] expanded"
        case .zero: ", zero bias [1] (composed)"
        }
        var variant = "B=\(b) H=\(h) Lq=\(lq) Lk=\(lk) D=\(d)\(dv == d ? "" : " Dv=\(dv)") \(layoutName)\(biasName)"
        if let note { variant = "\(note): " + variant }
        if zeroBiasReference { variant += ", oracle with zero bias" }

        let inputs: @Sendable (inout CaseRandom) throws -> [Tensor] = { rng in
            var xs: [Tensor]
            switch layout {
            case .dense:
                xs = [try rng.tensor([b, h, lq, d], dt, -2...2), try rng.tensor([b, h, lk, d], dt), try rng.tensor([b, h, lk, dv], dt)]
            case .heads:
                xs = [try rng.tensor([b, lq, h * d], dt, -2...2), try rng.tensor([b, lk, h * d], dt), try rng.tensor([b, lk, h * dv], dt)]
            case .packed:
                xs = [try rng.tensor([b, 1, lq, 3 * d], dt, -2...2)]
            }
            switch bias {
            case .none, .zero:
                break
            case .full:
                xs.append(try rng.tensor([1, h, lq, lk], dt, -2...2))
            case .masked:
                // A large finite negative, as finfo(dtype).min in the model (f16's range ends at 65504).
                let mask: Float = dt == .f16 ? -65504 : -3e38
                var values = [Float](repeating: 0, count: lq * lk)
                for i in 0..<lq {
                    for j in 0..<lk { values[i * lk + j] = j % 7 == 3 ? mask : rng.uniform(-2, 2) }
                }
                xs.append(try Tensor.host(values, shape: [1, 1, lq, lk], dtype: dt))
            }
            return xs
        }
        @Sendable func views(_ x: [Tensor]) throws -> (Tensor, Tensor, Tensor) {
            switch layout {
            case .dense:
                return (x[0], x[1], x[2])
            case .heads:
                func split(_ t: Tensor, _ l: Int, _ width: Int) throws -> Tensor {
                    try t.reshaped([b, l, h, width]).permuted([0, 2, 1, 3])
                }
                return (try split(x[0], lq, d), try split(x[1], lk, d), try split(x[2], lk, dv))
            case .packed:
                return (try x[0].narrowed(dim: 3, start: 0, length: d), try x[0].narrowed(dim: 3, start: d, length: d),
                        try x[0].narrowed(dim: 3, start: 2 * d, length: d))
            }
        }
        @Sendable func zeroBias(_ backend: any Backend, _ dtype: DType) throws -> Tensor {
            try backend.upload(try Tensor.host([0], shape: [1], dtype: dtype))
        }
        let run: @Sendable (any Backend, [Tensor]) throws -> Tensor = { backend, x in
            let (q, k, v) = try views(x)
            let biasTensor: Tensor? = switch bias {
            case .none: nil
            case .full: x[x.count - 1]
            case .masked: try x[x.count - 1].expanded(to: [b, h, lq, lk])
            case .zero: try zeroBias(backend, q.dtype)
            }
            return try backend.attention(q: q, k: k, v: v, scale: scale, bias: biasTensor)
        }
        let composed: @Sendable (any Backend, [Tensor]) throws -> Tensor = { backend, x in
            let (q, k, v) = try views(x)
            return try backend.attention(q: q, k: k, v: v, scale: scale, bias: try zeroBias(backend, q.dtype))
        }
        let reference = zeroBiasReference ? composed : nil
        return OpCase(op: "attention", variant: variant, dtype: dt, inputs: inputs, run: run, reference: reference)
    }
}
