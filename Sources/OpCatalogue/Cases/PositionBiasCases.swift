import TensorCore

/// `expandRelativeBias` (umT5's relative position bias, expanded where it is used) against an
/// element-by-element construction on the host: per dtype, without and with padding keys (a
/// finite mask value, so the NMSE still sees the copied values).
enum PositionBiasCases {
    static var all: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16, .f16] {
            for (l, masked) in [(7, false), (13, true), (64, true)] {
                cases.append(OpCase(op: "expandRelativeBias", variant: "H 3, L \(l)\(masked ? ", padding keys" : "")", dtype: dt,
                                    inputs: { r in
                                        var ts = [try r.tensor([3, 2 * l - 1], dt)]
                                        if masked {
                                            // Every third key (and the last) is padding.
                                            let keep = try Tensor.hostEmpty([l], dtype: .u8)
                                            let p = try keep.hostBuffer().base
                                            for j in 0..<l { p.storeBytes(of: j % 3 == 1 || j == l - 1 ? 0 : 1, toByteOffset: j, as: UInt8.self) }
                                            ts.append(keep)
                                        }
                                        return ts
                                    },
                                    run: { b, t in try b.expandRelativeBias(t[0], keep: t.count > 1 ? t[1] : nil, maskValue: -7.5) },
                                    reference: { _, t in try expanded(t[0], keep: t.count > 1 ? t[1] : nil, maskValue: -7.5) }))
            }
        }
        return cases
    }

    /// out[h, i, j] = keep[j] ? byDistance[h, j − i + L − 1] : maskValue, one element at a time.
    @Sendable static func expanded(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor {
        let values = try byDistance.floats(), keeps = try keep?.int64s()
        let (h, w) = (byDistance.shape[0], byDistance.shape[1])
        let l = (w + 1) / 2
        var out = [Float](repeating: 0, count: h * l * l)
        for hh in 0..<h {
            for i in 0..<l {
                for j in 0..<l {
                    out[(hh * l + i) * l + j] = keeps.map { $0[j] != 0 } ?? true ? values[hh * w + j - i + l - 1] : maskValue
                }
            }
        }
        return try Tensor.host(out, shape: [h, l, l], dtype: byDistance.dtype)
    }
}
