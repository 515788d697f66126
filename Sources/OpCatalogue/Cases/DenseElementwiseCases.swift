import TensorCore

/// Conversions, unary and binary ops on dense operands, which CUDA runs with its `_dense` kernels
/// (8-element 16-byte steps from the first element where every operand is aligned, scalar steps
/// for the head, the tail and operands whose alignments never agree), and on the strided views
/// next to them that must still take the generic kernels.
///
/// Inputs are uploaded into fresh (aligned) buffers, so a view's element offset sets its
/// alignment: bf16/f16 at offset 8 and f32 at offset 4 stay 16-byte aligned, offset 1 never
/// meets a fresh output's alignment (all scalar steps), and a 2-byte view at offset 4 meets an
/// f32 output's at element 4 (a 4-element scalar head).
enum DenseElementwiseCases {
    static let floatTypes: [DType] = [.f32, .bf16, .f16]
    /// Fewer than one group, one group less one, a group short of 1024, and large and odd.
    static let lengths = [1, 7, 1023, 100_003]

    static var all: [OpCase] { conversions + unaries + binaries + rows }

    /// A 1-D view of `length` elements from `start` of `t`.
    static func view(_ t: Tensor, _ start: Int, _ length: Int) throws -> Tensor {
        try t.narrowed(dim: 0, start: start, length: length)
    }

    static var conversions: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            for target in floatTypes where target != dt {
                let bound = OpCase.defaultBound(target == .f32 ? dt : target)
                for n in lengths {
                    cases.append(OpCase(op: "convert", variant: "dense [\(n)] → \(target)", dtype: dt, bound: bound,
                                        inputs: { try [$0.tensor([n], dt, -4...4)] },
                                        run: { b, x in try b.contiguous(x[0], dtype: target) }))
                }
                for start in [1, 4, 8] {
                    cases.append(OpCase(op: "convert", variant: "[1031] from element \(start) → \(target)", dtype: dt, bound: bound,
                                        inputs: { try [$0.tensor([1031 + start], dt, -4...4)] },
                                        run: { b, x in try b.contiguous(try view(x[0], start, 1031), dtype: target) }))
                }
            }
        }
        return cases
    }

    static var unaries: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            for op in [UnaryOp.geluTanh, .silu, .rsqrt] {
                let range: ClosedRange<Float> = op == .rsqrt ? 0.1...4 : -4...4
                for n in lengths {
                    cases.append(OpCase(op: "unary", variant: "\(op) dense [\(n)]", dtype: dt,
                                        inputs: { try [$0.tensor([n], dt, range)] },
                                        run: { b, x in try b.unary(op, x[0]) }))
                }
                for start in [1, 8] {
                    cases.append(OpCase(op: "unary", variant: "\(op) [1025] from element \(start)", dtype: dt,
                                        inputs: { try [$0.tensor([1025 + start], dt, range)] },
                                        run: { b, x in try b.unary(op, try view(x[0], start, 1025)) }))
                }
            }
            cases.append(OpCase(op: "affine", variant: "dense [37,29] ·0.75 + 2", dtype: dt,
                                inputs: { try [$0.tensor([37, 29], dt)] },
                                run: { b, x in try b.affine(x[0], scale: 0.75, shift: 2) }))
            cases.append(OpCase(op: "affine", variant: "[999] from element 3 ·0.75 + 2", dtype: dt,
                                inputs: { try [$0.tensor([1002], dt)] },
                                run: { b, x in try b.affine(try view(x[0], 3, 999), scale: 0.75, shift: 2) }))
        }
        return cases
    }

    static var binaries: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            for other in floatTypes {
                for n in [7, 1023, 100_003] {
                    cases.append(OpCase(op: "binary", variant: "add dense [\(n)] + [\(n)] \(other)", dtype: dt,
                                        inputs: { try [$0.tensor([n], dt), $0.tensor([n], other)] },
                                        run: { b, x in try b.binary(.add, x[0], x[1]) }))
                }
                // b's offset: aligned (8), a head of 4 for an f32 output and 2-byte b, or never aligned (1).
                for start in [1, 4, 8] {
                    cases.append(OpCase(op: "binary", variant: "mul dense [1029] ⊙ \(other) from element \(start)", dtype: dt,
                                        inputs: { try [$0.tensor([1029], dt), $0.tensor([1029 + start], other)] },
                                        run: { b, x in try b.binary(.mul, x[0], try view(x[1], start, 1029)) }))
                }
            }
            for op in BinaryOp.allCases {
                cases.append(OpCase(op: "binary", variant: "\(op) dense [3,341] ⊙ [3,341] bf16", dtype: dt,
                                    inputs: { try [$0.tensor([3, 341], dt), $0.tensor([3, 341], .bf16, 0.5...2)] },
                                    run: { b, x in try b.binary(op, x[0], x[1]) }))
            }
            // Head-major views of token-major memory plus a dense operand (the SLA sum): computed in
            // the view's memory order, where the dense operand is strided with contiguous rows of 16
            // or 24 — td_binary_groups on CUDA; then a view whose element offset (4) is not a multiple
            // of 8, which takes the generic kernel.
            for other in [dt, .f32] {
                for (h, l, d) in [(3, 37, 16), (2, 129, 24), (12, 64, 64)] {
                    cases.append(OpCase(op: "binary", variant: "add head-major [\(h),\(l),\(d)] view + [\(h),\(l),\(d)] \(other)", dtype: dt,
                                        inputs: { try [$0.tensor([l, h, d], dt), $0.tensor([h, l, d], other)] },
                                        run: { b, x in try b.binary(.add, x[0].permuted([1, 0, 2]), x[1]) }))
                }
            }
            cases.append(OpCase(op: "binary", variant: "mul head-major [3,37,16] view from element 4 ⊙ [3,37,16] bf16", dtype: dt,
                                inputs: { try [$0.tensor([37 * 3 * 16 + 4], dt), $0.tensor([3, 37, 16], .bf16)] },
                                run: { b, x in try b.binary(.mul, try view(x[0], 4, 37 * 3 * 16).reshaped([37, 3, 16]).permuted([1, 0, 2]), x[1]) }))
            // Strided: the generic kernel.
            cases.append(OpCase(op: "binary", variant: "sub transposed [33,17]ᵀ − dense [17,33]", dtype: dt,
                                inputs: { try [$0.tensor([33, 17], dt), $0.tensor([17, 33], .f32)] },
                                run: { b, x in try b.binary(.sub, x[0].transposed(0, 1), x[1]) }))
        }
        return cases
    }

    static var rows: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            for rowType in floatTypes {
                // Odd columns (row read element by element), columns < 8 (a group spans rows),
                // a multiple of 8 (the row read in groups) and 1 (a broadcast scalar).
                for (rowsCount, cols) in [(37, 9), (129, 3), (33, 64), (1031, 1)] {
                    cases.append(OpCase(op: "binary", variant: "add [\(rowsCount),\(cols)] + \(rowType) row [\(cols)]", dtype: dt,
                                        inputs: { try [$0.tensor([rowsCount, cols], dt), $0.tensor([cols], rowType)] },
                                        run: { b, x in try b.binary(.add, x[0], x[1]) }))
                }
            }
            // The row at an offset that breaks its alignment, then the dense operand at one.
            cases.append(OpCase(op: "binary", variant: "mul [65,64] ⊙ row [64] from element 3", dtype: dt,
                                inputs: { try [$0.tensor([65, 64], dt), $0.tensor([67], .bf16)] },
                                run: { b, x in try b.binary(.mul, x[0], try view(x[1], 3, 64)) }))
            cases.append(OpCase(op: "binary", variant: "sub [40,24] from element 1 − row [24]", dtype: dt,
                                inputs: { try [$0.tensor([40 * 24 + 1], dt), $0.tensor([24], .f32)] },
                                run: { b, x in try b.binary(.sub, try view(x[0], 1, 40 * 24).reshaped([40, 24]), x[1]) }))
            // The row first, odd columns: add and mul swap their operands, maximum takes the generic kernel.
            for op in [BinaryOp.mul, .add, .maximum] {
                cases.append(OpCase(op: "binary", variant: "\(op) row [1,1,23] ⊙ [5,7,23] f32", dtype: dt,
                                    inputs: { try [$0.tensor([1, 1, 23], dt), $0.tensor([5, 7, 23], .f32)] },
                                    run: { b, x in try b.binary(op, x[0], x[1]) }))
            }
            // A row broadcast over a transposed operand: the generic kernel.
            cases.append(OpCase(op: "binary", variant: "add transposed [24,40]ᵀ + row [24]", dtype: dt,
                                inputs: { try [$0.tensor([24, 40], dt), $0.tensor([24], .f32)] },
                                run: { b, x in try b.binary(.add, x[0].transposed(0, 1), x[1]) }))
        }
        return cases
    }
}
