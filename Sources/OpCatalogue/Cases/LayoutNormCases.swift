#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// concat, pad, upsampleNearest, layerNorm, rmsNorm, l2Norm and rotary: odd sizes, strided
/// and permuted views, zero-size pieces, the models' row widths (1536, 5120) and head dims.
enum LayoutNormCases {
    static let floatTypes: [DType] = [.f32, .bf16, .f16]

    static var all: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            cases += concat(dt) + pad(dt) + upsample(dt) + layerNorm(dt) + rmsNorm(dt) + l2Norm(dt) + rotary(dt)
        }
        cases += integerLayout()
        return cases
    }

    // MARK: Layout

    static func concat(_ dt: DType) -> [OpCase] {
        var cases: [OpCase] = []
        let plain: [(String, [[Int]], Int)] = [
            ("first dim [2|3|1,5,7]", [[2, 5, 7], [3, 5, 7], [1, 5, 7]], 0),
            ("middle dim [4,3|1|6,9]", [[4, 3, 9], [4, 1, 9], [4, 6, 9]], 1),
            ("last dim (−1) [5,3,4|1|11]", [[5, 3, 4], [5, 3, 1], [5, 3, 11]], -1),
            ("middle dim with an empty piece [4,2|0|3,6]", [[4, 2, 6], [4, 0, 6], [4, 3, 6]], 1),
            ("VAE cache [16,2|3,9,13] dim 1", [[16, 2, 9, 13], [16, 3, 9, 13]], 1),
            // Rows of ≥ 256 contiguous elements: the CUDA backend's 2-D copy path.
            ("pitched rows [5,2|3,9,31] dim 1", [[5, 2, 9, 31], [5, 3, 9, 31]], 1),
        ]
        for (variant, shapes, dim) in plain {
            cases.append(OpCase(op: "concat", variant: variant, dtype: dt,
                                inputs: { r in try shapes.map { try r.tensor($0, dt) } },
                                run: { b, x in try b.concat(x, dim: dim) }))
        }
        cases.append(OpCase(op: "concat", variant: "dim 1 of permuted [4,5,6], narrowed [4,2,6], permuted [4,3,6]", dtype: dt,
                            inputs: { try [$0.tensor([5, 4, 6], dt), $0.tensor([4, 7, 6], dt), $0.tensor([6, 3, 4], dt)] },
                            run: { b, x in
                                try b.concat([x[0].permuted([1, 0, 2]), x[1].narrowed(dim: 1, start: 2, length: 2),
                                              x[2].permuted([2, 1, 0])], dim: 1)
                            }))
        cases.append(OpCase(op: "concat", variant: "frame ranges of [3,7,5,61] and [3,6,5,61] (pitched rows)", dtype: dt,
                            inputs: { try [$0.tensor([3, 7, 5, 61], dt), $0.tensor([3, 6, 5, 61], dt)] },
                            run: { b, x in
                                try b.concat([x[0].narrowed(dim: 1, start: 5, length: 2), x[1].narrowed(dim: 1, start: 1, length: 4)], dim: 1)
                            }))
        cases.append(OpCase(op: "contiguous", variant: "last 2 frames of [4,6,3,97] (pitched rows)", dtype: dt,
                            inputs: { try [$0.tensor([4, 6, 3, 97], dt)] },
                            run: { b, x in try b.contiguous(x[0].narrowed(dim: 1, start: 4, length: 2)) }))
        // Rows of a contiguous run (16-byte multiples) in permuted order: the CUDA backend's td_copy_runs16.
        cases.append(OpCase(op: "concat", variant: "SLA head groups: [1,2|3,70,64] as [1,70,h,64] along heads (runs)", dtype: dt,
                            inputs: { try [$0.tensor([1, 2, 70, 64], dt), $0.tensor([1, 3, 70, 64], dt)] },
                            run: { b, x in try b.concat(x.map { try $0.permuted([0, 2, 1, 3]) }, dim: 2) }))
        cases.append(OpCase(op: "contiguous", variant: "heads merged: [2,3,50,40] as [2,50,3,40] (runs)", dtype: dt,
                            inputs: { try [$0.tensor([2, 3, 50, 40], dt)] },
                            run: { b, x in try b.contiguous(x[0].permuted([0, 2, 1, 3])) }))
        cases.append(OpCase(op: "contiguous", variant: "[5,4,9,16] as [9,5,4,16] at an offset (runs)", dtype: dt,
                            inputs: { try [$0.tensor([6, 4, 9, 16], dt)] },
                            run: { b, x in try b.contiguous(x[0].narrowed(dim: 0, start: 1, length: 5).permuted([2, 0, 1, 3])) }))
        cases.append(OpCase(op: "concat", variant: "last dim of transposed [6,5|2|3]", dtype: dt,
                            inputs: { try [$0.tensor([5, 6], dt), $0.tensor([2, 6], dt), $0.tensor([6, 3], dt)] },
                            run: { b, x in try b.concat([x[0].transposed(0, 1), x[1].transposed(0, 1), x[2]], dim: 1) }))
        return cases
    }

    static func pad(_ dt: DType) -> [OpCase] {
        let plain: [(String, [Int], [Padding], Float)] = [
            ("[3,5,37] last two (1,2),(0,3)", [3, 5, 37], [Padding(1, 2), Padding(0, 3)], 0),
            ("[3,5,37] all dims (2,0),(0,0),(1,1) value 0.5", [3, 5, 37], [Padding(2, 0), Padding(0, 0), Padding(1, 1)], 0.5),
            ("[2,0,5] empty dim (1,1),(0,2) value −1.25", [2, 0, 5], [Padding(1, 1), Padding(0, 2)], -1.25),
            ("[6,4] all zero pads", [6, 4], [Padding(0, 0), Padding(0, 0)], 3),
            ("causal time [8,3,9,13] (2,0) on dim 1", [8, 3, 9, 13], [Padding(2, 0), .none, .none], 0),
            ("VAE downsample [8,2,9,13] (0,1),(0,1)", [8, 2, 9, 13], [Padding(0, 1), Padding(0, 1)], 0),
            ("text [37,64] (0,27) rows", [37, 64], [Padding(0, 27), .none], 0),
            ("rank 9 [2,1,3,1,2,1,2,1,3] last (1,1)", [2, 1, 3, 1, 2, 1, 2, 1, 3], [Padding(1, 1)], 2),
        ]
        var cases: [OpCase] = plain.map { variant, shape, padding, value in
            OpCase(op: "pad", variant: variant, dtype: dt,
                   inputs: { try [$0.tensor(shape, dt)] },
                   run: { b, x in try b.pad(x[0], padding, value: value) })
        }
        cases.append(OpCase(op: "pad", variant: "permuted [7,5,9]→[9,7,5] (0,1),(3,0),(2,2)", dtype: dt,
                            inputs: { try [$0.tensor([7, 5, 9], dt)] },
                            run: { b, x in try b.pad(x[0].permuted([2, 0, 1]), [Padding(0, 1), Padding(3, 0), Padding(2, 2)], value: 0) }))
        cases.append(OpCase(op: "pad", variant: "narrowed [5,11]→[5,6] (1,0),(0,2) value 0.75", dtype: dt,
                            inputs: { try [$0.tensor([5, 11], dt)] },
                            run: { b, x in try b.pad(x[0].narrowed(dim: 1, start: 3, length: 6), [Padding(1, 0), Padding(0, 2)], value: 0.75) }))
        return cases
    }

    static func upsample(_ dt: DType) -> [OpCase] {
        let plain: [(String, [Int], Int, Int)] = [
            ("[3,5,7] ×2×2", [3, 5, 7], 2, 2),
            ("[4,3,5] ×1×3", [4, 3, 5], 1, 3),
            ("[4,3,5] ×3×1", [4, 3, 5], 3, 1),
            ("[2,3,1] ×2×2 (W = 1)", [2, 3, 1], 2, 2),
            ("VAE [16,2,30,52] ×2×2", [16, 2, 30, 52], 2, 2),
        ]
        var cases: [OpCase] = plain.map { variant, shape, sh, sw in
            OpCase(op: "upsampleNearest", variant: variant, dtype: dt,
                   inputs: { try [$0.tensor(shape, dt)] },
                   run: { b, x in try b.upsampleNearest(x[0], scaleH: sh, scaleW: sw) })
        }
        cases.append(OpCase(op: "upsampleNearest", variant: "permuted [5,3,7]→[3,7,5] ×2×3", dtype: dt,
                            inputs: { try [$0.tensor([5, 3, 7], dt)] },
                            run: { b, x in try b.upsampleNearest(x[0].permuted([1, 2, 0]), scaleH: 2, scaleW: 3) }))
        return cases
    }

    /// Byte-moving paths for 1- and 8-byte elements (exact results expected).
    static func integerLayout() -> [OpCase] {
        [
            OpCase(op: "concat", variant: "i64 dim 1 [3,2|5|1]", dtype: .i64,
                   inputs: { r in try [r.integers([3, 2], .i64, -1000...1000), r.integers([3, 5], .i64, -1000...1000),
                                       r.integers([3, 1], .i64, -1000...1000)] },
                   run: { b, x in try b.concat(x, dim: 1) }),
            OpCase(op: "pad", variant: "i8 [4,9] (1,2),(3,0) value −3", dtype: .i8,
                   inputs: { try [$0.integers([4, 9], .i8, -100...100)] },
                   run: { b, x in try b.pad(x[0], [Padding(1, 2), Padding(3, 0)], value: -3) }),
            OpCase(op: "pad", variant: "i32 transposed [5,6] (0,2),(1,1) value 7", dtype: .i32,
                   inputs: { try [$0.integers([6, 5], .i32, -50...50)] },
                   run: { b, x in try b.pad(x[0].transposed(0, 1), [Padding(0, 2), Padding(1, 1)], value: 7) }),
            OpCase(op: "upsampleNearest", variant: "u8 [3,4,5] ×2×3", dtype: .u8,
                   inputs: { try [$0.integers([3, 4, 5], .u8, 1...255)] },
                   run: { b, x in try b.upsampleNearest(x[0], scaleH: 2, scaleW: 3) }),
        ]
    }

    // MARK: Row norms

    static func layerNorm(_ dt: DType) -> [OpCase] {
        var cases: [OpCase] = []
        // (variant, shape, affine, input range)
        let plain: [(String, [Int], Bool, ClosedRange<Float>)] = [
            ("[3,5,37]", [3, 5, 37], false, -1...1),
            ("[3,5,37] weight + bias", [3, 5, 37], true, -1...1),
            ("[300,1536] weight + bias, mean ≠ 0", [300, 1536], true, 1...3),
            ("[96,5120]", [96, 5120], false, -2...2),
            ("[2,13000] (row not cached)", [2, 13000], true, -1...1),
            ("[3,12289] (row not cached, odd)", [3, 12289], false, -1...1),
            ("[4,1]", [4, 1], true, -1...1),
        ]
        for (variant, shape, affine, range) in plain {
            let c = shape[shape.count - 1]
            cases.append(OpCase(op: "layerNorm", variant: variant, dtype: dt,
                                inputs: { r in
                                    try [r.tensor(shape, dt, range)] + (affine ? [r.tensor([c], .f32, 0.5...1.5), r.tensor([c], .f32)] : [])
                                },
                                run: { b, x in try b.layerNorm(x[0], weight: x.count > 1 ? x[1] : nil, bias: x.count > 2 ? x[2] : nil, eps: 1e-6) }))
        }
        cases.append(OpCase(op: "layerNorm", variant: "permuted [5,37,3]→[5,3,37], weight [1,37] in x's dtype", dtype: dt,
                            inputs: { try [$0.tensor([5, 37, 3], dt), $0.tensor([1, 37], dt, 0.5...1.5)] },
                            run: { b, x in try b.layerNorm(x[0].permuted([0, 2, 1]), weight: x[1], bias: nil, eps: 1e-5) }))
        cases.append(OpCase(op: "layerNorm", variant: "narrowed [6,40]→[6,36] bias only", dtype: dt,
                            inputs: { try [$0.tensor([6, 40], dt), $0.tensor([36], .f32)] },
                            run: { b, x in try b.layerNorm(x[0].narrowed(dim: 1, start: 1, length: 36), weight: nil, bias: x[1], eps: 1e-6) }))
        return cases
    }

    static func rmsNorm(_ dt: DType) -> [OpCase] {
        var cases: [OpCase] = []
        let plain: [(String, [Int])] = [("[3,5,37]", [3, 5, 37]), ("[300,1536]", [300, 1536]), ("[64,5120]", [64, 5120]),
                                        ("[2,13001] (row not cached)", [2, 13001])]
        for (variant, shape) in plain {
            let c = shape[shape.count - 1]
            cases.append(OpCase(op: "rmsNorm", variant: "\(variant) weight in x's dtype", dtype: dt,
                                inputs: { try [$0.tensor(shape, dt), $0.tensor([c], dt, 0.5...1.5)] },
                                run: { b, x in try b.rmsNorm(x[0], weight: x[1], eps: 1e-6) }))
        }
        cases.append(OpCase(op: "rmsNorm", variant: "[7,64] f32 weight", dtype: dt,
                            inputs: { try [$0.tensor([7, 64], dt), $0.tensor([64], .f32, 0.5...1.5)] },
                            run: { b, x in try b.rmsNorm(x[0], weight: x[1], eps: 1e-6) }))
        cases.append(OpCase(op: "rmsNorm", variant: "[9,33] no weight", dtype: dt,
                            inputs: { try [$0.tensor([9, 33], dt)] },
                            run: { b, x in try b.rmsNorm(x[0], weight: nil, eps: 1e-6) }))
        cases.append(OpCase(op: "rmsNorm", variant: "transposed [48,10]→[10,48]", dtype: dt,
                            inputs: { try [$0.tensor([48, 10], dt), $0.tensor([48], dt, 0.5...1.5)] },
                            run: { b, x in try b.rmsNorm(x[0].transposed(0, 1), weight: x[1], eps: 1e-6) }))
        return cases
    }

    // MARK: L2 norm and rotary

    static func l2Norm(_ dt: DType) -> [OpCase] {
        // (variant, shape, dim, parameter shape (nil: no gamma/bias), bias)
        let plain: [(String, [Int], Int, [Int]?, Bool)] = [
            ("dim 0 [96,3,7,11] gamma/bias [96,1,1,1]", [96, 3, 7, 11], 0, [96, 1, 1, 1], true),
            ("dim 0 [40,5,9] gamma/bias [40,1,1]", [40, 5, 9], 0, [40, 1, 1], true),
            ("dim 1 [2,37,5,7] gamma/bias [37,1,1]", [2, 37, 5, 7], 1, [37, 1, 1], true),
            ("dim 1 [3,24,5] gamma [24] no bias", [3, 24, 5], 1, [24], false),
            ("dim −1 [5,3,48] no gamma", [5, 3, 48], -1, nil, false),
            ("VAE dim 0 [384,2,30,52] gamma [384,1,1,1]", [384, 2, 30, 52], 0, [384, 1, 1, 1], false),
        ]
        var cases: [OpCase] = plain.map { variant, shape, dim, pshape, bias in
            OpCase(op: "l2Norm", variant: variant, dtype: dt,
                   inputs: { r in
                       var t = [try r.tensor(shape, dt)]
                       if let pshape {
                           t.append(try r.tensor(pshape, .f32, 0.5...1.5))
                           if bias { t.append(try r.tensor(pshape, .f32, -0.5...0.5)) }
                       }
                       return t
                   },
                   run: { b, x in try b.l2Norm(x[0], dim: dim, gamma: x.count > 1 ? x[1] : nil, bias: x.count > 2 ? x[2] : nil, eps: 1e-12) })
        }
        cases.append(OpCase(op: "l2Norm", variant: "dim 0 of permuted [7,11,24]→[24,7,11] gamma [24,1,1]", dtype: dt,
                            inputs: { try [$0.tensor([7, 11, 24], dt), $0.tensor([24, 1, 1], .f32, 0.5...1.5)] },
                            run: { b, x in try b.l2Norm(x[0].permuted([2, 0, 1]), dim: 0, gamma: x[1], bias: nil, eps: 1e-12) }))
        return cases
    }

    /// cos/sin tables [l, half] of real angles (cos² + sin² = 1).
    static func rotaryTables(_ r: inout CaseRandom, _ l: Int, _ half: Int) throws -> [Tensor] {
        var c = [Float](), s = [Float]()
        for _ in 0..<(l * half) {
            let a = Double(r.uniform(-3.2, 3.2))
            c.append(Float(Glibc.cos(a)))
            s.append(Float(Glibc.sin(a)))
        }
        return [try Tensor.host(c, shape: [l, half]), try Tensor.host(s, shape: [l, half])]
    }

    static func rotary(_ dt: DType) -> [OpCase] {
        return [
            OpCase(op: "rotary", variant: "[7,3,128]", dtype: dt,
                   inputs: { r in try [r.tensor([7, 3, 128], dt)] + rotaryTables(&r, 7, 64) },
                   run: { b, x in try b.rotary(x[0], cos: x[1], sin: x[2]) }),
            OpCase(op: "rotary", variant: "[5,3,6] (odd D/2)", dtype: dt,
                   inputs: { r in try [r.tensor([5, 3, 6], dt)] + rotaryTables(&r, 5, 3) },
                   run: { b, x in try b.rotary(x[0], cos: x[1], sin: x[2]) }),
            OpCase(op: "rotary", variant: "head dim 64 on permuted [4,9,64]→[9,4,64]", dtype: dt,
                   inputs: { r in try [r.tensor([4, 9, 64], dt)] + rotaryTables(&r, 9, 32) },
                   run: { b, x in try b.rotary(x[0].permuted([1, 0, 2]), cos: x[1], sin: x[2]) }),
            OpCase(op: "rotary", variant: "head dim 128 on permuted [2,6,13,128]→[2,13,6,128]", dtype: dt,
                   inputs: { r in try [r.tensor([2, 6, 13, 128], dt)] + rotaryTables(&r, 13, 64) },
                   run: { b, x in try b.rotary(x[0].permuted([0, 2, 1, 3]), cos: x[1], sin: x[2]) }),
            OpCase(op: "rotary", variant: "narrowed [5,3,130]→[5,3,128] (odd offset)", dtype: dt,
                   inputs: { r in try [r.tensor([5, 3, 130], dt)] + rotaryTables(&r, 5, 64) },
                   run: { b, x in try b.rotary(x[0].narrowed(dim: 2, start: 1, length: 128), cos: x[1], sin: x[2]) }),
            OpCase(op: "rotary", variant: "DiT [520,12,128]", dtype: dt,
                   inputs: { r in try [r.tensor([520, 12, 128], dt)] + rotaryTables(&r, 520, 64) },
                   run: { b, x in try b.rotary(x[0], cos: x[1], sin: x[2]) }),
        ]
    }
}
