import TensorCore

/// Layout copies, conversions, unary/binary/affine, softmax and matmul.
enum ElementwiseCases {
    static let floatTypes: [DType] = [.f32, .bf16, .f16]

    static var all: [OpCase] {
        var cases: [OpCase] = []
        for dt in floatTypes {
            cases.append(OpCase(op: "contiguous", variant: "[5,7,9] permuted (2,0,1)", dtype: dt,
                                inputs: { try [$0.tensor([5, 7, 9], dt)] },
                                run: { b, x in try b.contiguous(x[0].permuted([2, 0, 1])) }))
            for target in floatTypes where target != dt {
                cases.append(OpCase(op: "convert", variant: "[33,65] narrowed → \(target)", dtype: dt,
                                    bound: OpCase.defaultBound(target == .f32 ? dt : target),
                                    inputs: { try [$0.tensor([33, 65], dt, -4...4)] },
                                    run: { b, x in try b.contiguous(x[0].narrowed(dim: 1, start: 3, length: 60), dtype: target) }))
            }
            for op in UnaryOp.allCases {
                let range: ClosedRange<Float> = [.sqrt, .rsqrt].contains(op) ? 0.1...4 : -3...3
                cases.append(OpCase(op: "unary", variant: "\(op) [3,257] transposed", dtype: dt,
                                    inputs: { try [$0.tensor([257, 3], dt, range)] },
                                    run: { b, x in try b.unary(op, x[0].transposed(0, 1)) }))
            }
            cases.append(OpCase(op: "affine", variant: "[1001] ·1.5 − 0.25", dtype: dt,
                                inputs: { try [$0.tensor([1001], dt)] },
                                run: { b, x in try b.affine(x[0], scale: 1.5, shift: -0.25) }))
            for op in BinaryOp.allCases {
                cases.append(OpCase(op: "binary", variant: "\(op) [4,5,3] ⊙ [5,1]", dtype: dt,
                                    inputs: { try [$0.tensor([4, 5, 3], dt), $0.tensor([5, 1], .f32, 0.5...2)] },
                                    run: { b, x in try b.binary(op, x[0], x[1]) }))
            }
            for op in [BinaryOp.add, .mul] {
                cases.append(OpCase(op: "binary", variant: "\(op) [37,2,65] ⊙ [1,2,65] (repeated row)", dtype: dt,
                                    inputs: { try [$0.tensor([37, 2, 65], dt), $0.tensor([1, 2, 65], .f32)] },
                                    run: { b, x in try b.binary(op, x[0], x[1]) }))
                cases.append(OpCase(op: "binary", variant: "\(op) narrowed [6,9] ⊙ row of a [3,9] view", dtype: dt,
                                    inputs: { try [$0.tensor([8, 9], dt), $0.tensor([3, 9], .f32)] },
                                    run: { b, x in try b.binary(op, x[0].narrowed(dim: 0, start: 2, length: 6), x[1].narrowed(dim: 0, start: 1, length: 1)) }))
            }
            for op in BinaryOp.allCases {
                cases.append(OpCase(op: "binary", variant: "\(op) row [1,65] ⊙ [37,65] (repeated row first)", dtype: dt,
                                    inputs: { try [$0.tensor([1, 65], dt), $0.tensor([37, 65], .bf16, 0.5...2)] },
                                    run: { b, x in try b.binary(op, x[0], x[1]) }))
            }
            // Rows up to 1024 columns take CUDA's warp-per-row kernel, longer ones the block-per-row one.
            for shape in [[7, 33], [3, 4, 1000], [5, 1], [300, 128], [2, 3000]] {
                cases.append(OpCase(op: "softmax", variant: "\(shape)", dtype: dt,
                                    inputs: { try [$0.tensor(shape, dt, -5...5)] },
                                    run: { b, x in try b.softmax(x[0]) }))
            }
        }
        for dt in floatTypes {
            cases.append(OpCase(op: "matmul", variant: "[2,37,70]·[45,70]ᵀ + bias", dtype: dt,
                                bound: dt == .f32 ? 1e-8 : OpCase.defaultBound(dt),
                                inputs: { try [$0.tensor([2, 37, 70], dt), $0.tensor([45, 70], dt), $0.tensor([45], dt)] },
                                run: { b, x in try b.matmul(x[0], x[1], transposeB: true, bias: x[2], outputType: dt) }))
        }
        cases.append(OpCase(op: "matmul", variant: "batched [3,17,40]·[3,40,23] → f32", dtype: .bf16,
                            inputs: { try [$0.tensor([3, 17, 40], .bf16), $0.tensor([3, 40, 23], .bf16)] },
                            run: { b, x in try b.matmul(x[0], x[1], transposeB: false, bias: nil, outputType: .f32) }))
        return cases
    }
}
