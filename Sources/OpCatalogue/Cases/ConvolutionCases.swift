import TensorCore

/// conv3d / conv2d in the Wan VAE's shapes (causal 3×3×3, temporal 3×1×1 with stride 2, 1×1×1
/// shortcuts, 2-D 3×3 downsampling with (0,1,0,1) padding) at odd sizes, and the VAE's fused
/// norm + SiLU against its composition. On CUDA, `test-backend` runs the conv3d and conv2d cases on
/// the chosen engine (implicit GEMM by default, or cuDNN) and again on im2col + cuBLASLt; the cases
/// cover the implicit GEMM's tile edges and each cuDNN route:
/// one type throughout (bf16, f16: tensor-op math; f32: FMA), bf16/f16 operands widened to f32
/// (TF32, exact on them), mixed operands (f32 FMA), materialized asymmetric padding, and
/// operands off a 16-byte boundary.
enum ConvolutionCases {
    static var all: [OpCase] { conv3d + conv3dConcatenating + conv2d + l2NormSiLU + videoBytes }

    /// The causal padding of a 3×3×3 CausalConv3d: two frames in front, one pixel around.
    static let causal = [Padding(2, 0), Padding(1, 1), Padding(1, 1)]

    /// A conv3d case: x [B, C, T, H, W], weight [O, C, kt, kh, kw], optional bias [O] (f32, as the
    /// VAE's), the result in `outputType` (nil: x's type through `Backend.conv3d`).
    static func conv3dCase(_ variant: String, x: [Int], o: Int, kernel: [Int], stride: [Int] = [1, 1, 1],
                           padding: [Padding], bias: Bool = true, dtype: DType, weightType: DType? = nil,
                           outputType: DType? = nil, bound: Double? = nil,
                           view: (@Sendable (Tensor) throws -> Tensor)? = nil, viewShape: [Int]? = nil) -> OpCase {
        let wType = weightType ?? dtype
        let wShape = [o, x[1]] + kernel
        return OpCase(op: "conv3d", variant: variant, dtype: dtype, bound: bound,
                      inputs: { r in
                          var ts = [try r.tensor(viewShape ?? x, dtype), try r.tensor(wShape, wType, -0.3...0.3)]
                          if bias { ts.append(try r.tensor([o], .f32)) }
                          return ts
                      },
                      run: { b, t in
                          let input = try view?(t[0]) ?? t[0]
                          let biasTensor = bias ? t[2] : nil
                          if let outputType {
                              return try b.conv3d(input, weight: t[1], bias: biasTensor, stride: stride, padding: padding,
                                                  outputType: outputType)
                          }
                          return try b.conv3d(input, weight: t[1], bias: biasTensor, stride: stride, padding: padding)
                      })
    }

    static var conv3d: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16] {
            cases.append(conv3dCase("3×3×3 causal [1,5,3,9,11] → 7 + bias", x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3],
                                    padding: causal, dtype: dt))
            cases.append(conv3dCase("3×1×1 stride (2,1,1) [1,6,5,7,6] → 5 + bias", x: [1, 6, 5, 7, 6], o: 5, kernel: [3, 1, 1],
                                    stride: [2, 1, 1], padding: [.none, .none, .none], dtype: dt))
            cases.append(conv3dCase("1×1×1 B=2 [2,9,2,5,7] → 13 + bias", x: [2, 9, 2, 5, 7], o: 13, kernel: [1, 1, 1],
                                    padding: [.none, .none, .none], dtype: dt))
            cases.append(conv3dCase("3×3×3 pad 1 B=2 [2,4,4,6,5] → 3 no bias", x: [2, 4, 4, 6, 5], o: 3, kernel: [3, 3, 3],
                                    padding: [Padding(1, 1), Padding(1, 1), Padding(1, 1)], bias: false, dtype: dt))
            // x stored [B, T, C, H, W] and permuted to [B, C, T, H, W]: a strided view.
            cases.append(conv3dCase("3×3×3 causal permuted x [1,6,4,7,9] → 5 + bias", x: [1, 6, 4, 7, 9], o: 5, kernel: [3, 3, 3],
                                    padding: causal, dtype: dt,
                                    view: { try $0.permuted([0, 2, 1, 3, 4]) }, viewShape: [1, 4, 6, 7, 9]))
            cases.append(conv3dCase("1×1×1 permuted x B=2 [2,8,3,4,5] → 6 no bias", x: [2, 8, 3, 4, 5], o: 6, kernel: [1, 1, 1],
                                    padding: [.none, .none, .none], bias: false, dtype: dt,
                                    view: { try $0.permuted([0, 2, 1, 3, 4]) }, viewShape: [2, 3, 8, 4, 5]))
            // x at an element offset (channels 1..<6 of 7): not on a 16-byte boundary.
            cases.append(conv3dCase("3×3×3 causal x at an offset [1,5,3,9,11] → 7 + bias", x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3],
                                    padding: causal, dtype: dt,
                                    view: { try $0.narrowed(dim: 1, start: 1, length: 5) }, viewShape: [1, 7, 3, 9, 11]))
            // Asymmetric time padding with a time stride (cuDNN pads symmetrically: the rest is materialized).
            cases.append(conv3dCase("3×1×1 stride (2,1,1) causal [1,6,5,7,6] → 5 + bias", x: [1, 6, 5, 7, 6], o: 5, kernel: [3, 1, 1],
                                    stride: [2, 1, 1], padding: [Padding(2, 0), .none, .none], dtype: dt))
            // The decoder's time upsampling conv: c → 2c, causal in time only.
            cases.append(conv3dCase("3×1×1 causal [1,8,3,5,6] → 16 + bias", x: [1, 8, 3, 5, 6], o: 16, kernel: [3, 1, 1],
                                    padding: [Padding(2, 0), .none, .none], dtype: dt))
        }
        // The VAE's call: bf16 operands, f32 bias, f32 or bf16 result (one rounding).
        for out in [DType.f32, .bf16] {
            cases.append(conv3dCase("3×3×3 causal [1,5,3,9,11] → 7 + bias → \(out)", x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3],
                                    padding: causal, dtype: .bf16, outputType: out))
            cases.append(conv3dCase("1×1×1 [1,12,2,6,7] → 10 + bias → \(out)", x: [1, 12, 2, 6, 7], o: 10, kernel: [1, 1, 1],
                                    padding: [.none, .none, .none], dtype: .bf16, outputType: out))
            cases.append(conv3dCase("3×3×3 pad 1 [1,6,2,5,9] → 4 no bias → \(out)", x: [1, 6, 2, 5, 9], o: 4, kernel: [3, 3, 3],
                                    padding: [Padding(1, 1), Padding(1, 1), Padding(1, 1)], bias: false, dtype: .bf16, outputType: out))
        }
        cases.append(conv3dCase("3×3×3 causal [1,5,3,9,11] → 7 + bias → f32", x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3],
                                padding: causal, dtype: .f16, outputType: .f32))
        cases.append(conv3dCase("3×3×3 causal [1,5,3,9,11] → 7 + bias", x: [1, 5, 3, 9, 11], o: 7, kernel: [3, 3, 3],
                                padding: causal, dtype: .f16))
        // Mixed operand types multiply in f32 (the CPU widens both): exact against the f32 oracle.
        cases.append(conv3dCase("3×3×3 causal f32 x · bf16 weight [1,5,3,9,11] → 7 + bias", x: [1, 5, 3, 9, 11], o: 7,
                                kernel: [3, 3, 3], padding: causal, dtype: .f32, weightType: .bf16, outputType: .f32))
        cases.append(conv3dCase("1×1×1 f32 x · bf16 weight [1,9,2,5,7] → 13 no bias", x: [1, 9, 2, 5, 7], o: 13,
                                kernel: [1, 1, 1], padding: [.none, .none, .none], bias: false, dtype: .f32, weightType: .bf16))
        cases.append(conv3dCase("1×1×1 [1,12,2,6,7] → 10 + bias", x: [1, 12, 2, 6, 7], o: 10, kernel: [1, 1, 1],
                                padding: [.none, .none, .none], dtype: .f16))
        // A realistic VAE layer: 96 → 96 channels, 3 frames of 60×104 (with the two cached frames:
        // no time padding), and the first chunk's causal padding.
        cases.append(conv3dCase("3×3×3 causal [1,96,3,60,104] → 96 + bias → f32", x: [1, 96, 3, 60, 104], o: 96, kernel: [3, 3, 3],
                                padding: causal, dtype: .bf16, outputType: .f32))
        cases.append(conv3dCase("3×3×3 cached [1,96,5,60,104] → 96 + bias → f32", x: [1, 96, 5, 60, 104], o: 96, kernel: [3, 3, 3],
                                padding: [.none, Padding(1, 1), Padding(1, 1)], dtype: .bf16, outputType: .f32))
        cases.append(conv3dCase("3×3×3 cached [1,96,5,60,104] → 96 + bias", x: [1, 96, 5, 60, 104], o: 96, kernel: [3, 3, 3],
                                padding: [.none, Padding(1, 1), Padding(1, 1)], dtype: .bf16))
        // The implicit GEMM's edges: channels padded to its K step (40 → 64), output channels over
        // two 128-row tiles with a tail (130), positions over several 128-column tiles with a tail,
        // two batch items; spatial stride 2 with 33 channels in f16.
        cases.append(conv3dCase("3×3×3 cached B=2 [2,40,4,11,13] → 130 + bias", x: [2, 40, 4, 11, 13], o: 130, kernel: [3, 3, 3],
                                padding: [.none, Padding(1, 1), Padding(1, 1)], dtype: .bf16))
        cases.append(conv3dCase("3×3×3 stride (1,2,2) pad 1 [1,33,3,17,19] → 9 no bias", x: [1, 33, 3, 17, 19], o: 9, kernel: [3, 3, 3],
                                stride: [1, 2, 2], padding: [Padding(1, 1), Padding(1, 1), Padding(1, 1)], bias: false, dtype: .f16))
        // Output-channel tiles of 64 and 128 rows (the two above and the VAE's 96 use 32 and 96).
        cases.append(conv3dCase("3×3×3 causal [1,16,3,6,7] → 64 + bias", x: [1, 16, 3, 6, 7], o: 64, kernel: [3, 3, 3],
                                padding: causal, dtype: .bf16))
        cases.append(conv3dCase("1×3×3 pad 1 [1,8,2,5,6] → 256 + bias → f32", x: [1, 8, 2, 5, 6], o: 256, kernel: [1, 3, 3],
                                padding: [.none, Padding(1, 1), Padding(1, 1)], dtype: .f16, outputType: .f32))
        // The Hopper (wgmma) kernel's channel tiles (it takes ≥ 192 output channels): 288 → three
        // 96 tiles (f16, spatial stride 2, a position tail), 200 → two 128 tiles (56 rows unused),
        // 256 above → two 128 tiles, 384 → two 192 tiles.
        cases.append(conv3dCase("3×3×3 stride (1,2,2) pad 1 [1,24,3,17,19] → 288 + bias", x: [1, 24, 3, 17, 19], o: 288,
                                kernel: [3, 3, 3], stride: [1, 2, 2], padding: [Padding(1, 1), Padding(1, 1), Padding(1, 1)],
                                dtype: .f16))
        cases.append(conv3dCase("3×1×1 causal [1,48,3,9,10] → 200 + bias → f32", x: [1, 48, 3, 9, 10], o: 200, kernel: [3, 1, 1],
                                padding: [Padding(2, 0), .none, .none], dtype: .bf16, outputType: .f32))
        cases.append(conv3dCase("3×3×3 cached [1,64,4,5,6] → 384 no bias", x: [1, 64, 4, 5, 6], o: 384, kernel: [3, 3, 3],
                                padding: [.none, Padding(1, 1), Padding(1, 1)], bias: false, dtype: .bf16))
        return cases
    }

    /// conv3d over frames given in parts (a causal layer's cached frames, then its new ones) against
    /// concat + conv3d: two bf16 parts into f32 (192 channels: the Hopper kernel), three f16 parts
    /// over two batch items with a permuted middle part and a one-frame part.
    static var conv3dConcatenating: [OpCase] {
        var cases: [OpCase] = []
        cases.append(OpCase(op: "conv3d", variant: "parts 2+3 frames [1,40,5,9,11] → 192 + bias → f32", dtype: .bf16,
                            inputs: { r in [try r.tensor([1, 40, 5, 9, 11], .bf16), try r.tensor([192, 40, 3, 3, 3], .bf16, -0.3...0.3),
                                            try r.tensor([192], .f32)] },
                            run: { b, t in try b.conv3d(concatenating: parts(t, [2, 3]), weight: t[1], bias: t[2], stride: [1, 1, 1],
                                                        padding: [.none, Padding(1, 1), Padding(1, 1)], outputType: .f32) },
                            reference: { b, t in try b.conv3d(t[0], weight: t[1], bias: t[2], stride: [1, 1, 1],
                                                              padding: [.none, Padding(1, 1), Padding(1, 1)], outputType: .f32) }))
        cases.append(OpCase(op: "conv3d", variant: "parts 2+1+2 frames B=2 [2,24,5,6,7], permuted part → 20 no bias", dtype: .f16,
                            inputs: { r in [try r.tensor([2, 24, 5, 6, 7], .f16), try r.tensor([20, 24, 3, 3, 3], .f16, -0.3...0.3)] },
                            run: { b, t in
                                var p = try parts(t, [2, 1, 2])
                                // The same values through a permuted copy: a part with non-default strides.
                                p[2] = try b.contiguous(p[2].permuted([0, 2, 1, 3, 4])).permuted([0, 2, 1, 3, 4])
                                return try b.conv3d(concatenating: p, weight: t[1], bias: nil, stride: [1, 1, 1],
                                                    padding: [Padding(2, 0), Padding(1, 1), Padding(1, 1)], outputType: .f16)
                            },
                            reference: { b, t in try b.conv3d(t[0], weight: t[1], bias: nil, stride: [1, 1, 1],
                                                              padding: [Padding(2, 0), Padding(1, 1), Padding(1, 1)], outputType: .f16) }))
        // A residual block's end: the convolution plus an f32 residual (fused into cuDNN's epilogue
        // on CUDA) against conv3d then add; from parts and from one part with the causal padding.
        let spatial = [Padding(1, 1), Padding(1, 1)]
        cases.append(OpCase(op: "conv3d", variant: "parts 2+3 frames [1,24,5,9,11] → 24 + bias + f32 residual", dtype: .bf16,
                            inputs: { r in [try r.tensor([1, 24, 5, 9, 11], .bf16), try r.tensor([24, 24, 3, 3, 3], .bf16, -0.3...0.3),
                                            try r.tensor([24], .f32), try r.tensor([1, 24, 3, 9, 11], .f32)] },
                            run: { b, t in try b.conv3d(concatenating: parts(t, [2, 3]), weight: t[1], bias: t[2], stride: [1, 1, 1],
                                                        padding: [.none] + spatial, adding: t[3]) },
                            reference: { b, t in
                                try b.add(b.conv3d(t[0], weight: t[1], bias: t[2], stride: [1, 1, 1], padding: [.none] + spatial,
                                                   outputType: .f32), t[3])
                            }))
        cases.append(OpCase(op: "conv3d", variant: "one part [1,40,3,10,7], causal (2,0) → 40 + bias + f32 residual", dtype: .bf16,
                            inputs: { r in [try r.tensor([1, 40, 3, 10, 7], .bf16), try r.tensor([40, 40, 3, 3, 3], .bf16, -0.3...0.3),
                                            try r.tensor([40], .f32), try r.tensor([1, 40, 3, 10, 7], .f32)] },
                            run: { b, t in try b.conv3d(concatenating: [t[0]], weight: t[1], bias: t[2], stride: [1, 1, 1],
                                                        padding: [Padding(2, 0)] + spatial, adding: t[3]) },
                            reference: { b, t in
                                try b.add(b.conv3d(t[0], weight: t[1], bias: t[2], stride: [1, 1, 1], padding: [Padding(2, 0)] + spatial,
                                                   outputType: .f32), t[3])
                            }))
        return cases
    }

    /// t[0] split along time into parts of `frames` frames (views).
    @Sendable static func parts(_ t: [Tensor], _ frames: [Int]) throws -> [Tensor] {
        var start = 0
        return try frames.map { f in
            defer { start += f }
            return try t[0].narrowed(dim: 2, start: start, length: f)
        }
    }

    static var conv2d: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16] {
            cases.append(OpCase(op: "conv2d", variant: "3×3 stride 2 pad (0,1,0,1) [1,6,13,17] → 7 + bias", dtype: dt,
                                inputs: { r in [try r.tensor([1, 6, 13, 17], dt), try r.tensor([7, 6, 3, 3], dt, -0.3...0.3),
                                                try r.tensor([7], .f32)] },
                                run: { b, t in try b.conv2d(t[0], weight: t[1], bias: t[2], stride: [2, 2],
                                                            padding: [Padding(0, 1), Padding(0, 1)]) }))
            cases.append(OpCase(op: "conv2d", variant: "3×3 pad 1 B=2 [2,5,9,10] → 4 no bias", dtype: dt,
                                inputs: { r in [try r.tensor([2, 5, 9, 10], dt), try r.tensor([4, 5, 3, 3], dt, -0.3...0.3)] },
                                run: { b, t in try b.conv2d(t[0], weight: t[1], bias: nil, stride: [1, 1],
                                                            padding: [Padding(1, 1), Padding(1, 1)]) }))
        }
        return cases
    }

    /// l2NormSiLU against the protocol's fallback: SiLU(l2Norm(x in f32)), one rounding.
    /// The decoded video as bytes, exactly (bound 0): values beyond [−1, 1] clamp, a permuted view,
    /// a bf16 video, and a NaN (→ 0).
    static var videoBytes: [OpCase] {
        var cases: [OpCase] = []
        for dt in [DType.f32, .bf16] {
            cases.append(OpCase(op: "videoBytes", variant: "[3,5,7,9] in ±1.3 → [5,7,9,3] u8", dtype: dt, bound: 0,
                                inputs: { r in [try r.tensor([3, 5, 7, 9], dt, -1.3...1.3)] },
                                run: { b, t in try b.videoBytes(t[0]) }))
        }
        cases.append(OpCase(op: "videoBytes", variant: "permuted [4,3,6,10] → [4,6,10,3] u8", dtype: .f32, bound: 0,
                            inputs: { r in [try r.tensor([4, 3, 6, 10], .f32, -1.1...1.1)] },
                            run: { b, t in try b.videoBytes(t[0].permuted([1, 0, 2, 3])) }))
        cases.append(OpCase(op: "videoBytes", variant: "a NaN among [3,2,3,4]", dtype: .f32, bound: 0,
                            inputs: { r in
                                var v = try r.tensor([3, 2, 3, 4], .f32).floats()
                                v[5] = .nan
                                return [try Tensor.host(v, shape: [3, 2, 3, 4])]
                            },
                            run: { b, t in try b.videoBytes(t[0]) }))
        return cases
    }

    static var l2NormSiLU: [OpCase] {
        var cases: [OpCase] = []
        let composed: @Sendable (any Backend, Tensor, Tensor, Tensor?, DType) throws -> Tensor = { b, x, gamma, bias, out in
            let x32 = x.dtype == .f32 ? x : try b.contiguous(x, dtype: .f32)
            let y = try b.unary(.silu, b.l2Norm(x32, dim: 0, gamma: gamma, bias: bias, eps: 1e-12))
            return out == .f32 ? y : try b.contiguous(y, dtype: out)
        }
        for (dt, out) in [(DType.f32, DType.f32), (.bf16, .f32), (.bf16, .bf16), (.f32, .bf16)] {
            for withBias in [false, true] {
                let shape = [7, 3, 5, 9]
                cases.append(OpCase(op: "l2NormSiLU", variant: "\(shape) gamma [7,1,1,1]\(withBias ? " + bias" : "") → \(out)",
                                    dtype: dt, bound: OpCase.defaultBound(out == .f32 ? dt : out),
                                    inputs: { r in
                                        var ts = [try r.tensor(shape, dt, -2...2), try r.tensor([7, 1, 1, 1], .f32, 0.5...1.5)]
                                        if withBias { ts.append(try r.tensor([7, 1, 1, 1], .f32, -0.5...0.5)) }
                                        return ts
                                    },
                                    run: { b, t in try b.l2NormSiLU(t[0], gamma: t[1], bias: withBias ? t[2] : nil, eps: 1e-12, outputType: out) },
                                    reference: { b, t in try composed(b, t[0], t[1], withBias ? t[2] : nil, out) }))
            }
        }
        // A strided input (time and channels swapped back) and a realistic size: 96 channels, 2 frames of 60×104.
        for dt in [DType.f32, .bf16] {
            cases.append(OpCase(op: "l2NormSiLU", variant: "permuted [5,9,4,6] gamma [9,1,1,1] → \(dt)", dtype: dt,
                                inputs: { r in [try r.tensor([5, 9, 4, 6], dt, -2...2), try r.tensor([9, 1, 1, 1], .f32, 0.5...1.5)] },
                                run: { b, t in try b.l2NormSiLU(t[0].permuted([1, 0, 2, 3]), gamma: t[1], bias: nil, eps: 1e-12, outputType: dt) },
                                reference: { b, t in try composed(b, t[0].permuted([1, 0, 2, 3]), t[1], nil, dt) }))
            cases.append(OpCase(op: "l2NormSiLU", variant: "[96,2,60,104] gamma [96,1,1,1] → \(dt)", dtype: dt,
                                inputs: { r in [try r.tensor([96, 2, 60, 104], dt, -2...2), try r.tensor([96, 1, 1, 1], .f32, 0.5...1.5)] },
                                run: { b, t in try b.l2NormSiLU(t[0], gamma: t[1], bias: nil, eps: 1e-12, outputType: dt) },
                                reference: { b, t in try composed(b, t[0], t[1], nil, dt) }))
        }
        // The widest channel count one CUDA block stages whole (384) and one past it, with a bias and
        // a position count that leaves the last block partly empty.
        for c in [384, 385] {
            cases.append(OpCase(op: "l2NormSiLU", variant: "[\(c),1,3,7] gamma + bias → bf16", dtype: .f32, bound: OpCase.defaultBound(.bf16),
                                inputs: { r in
                                    [try r.tensor([c, 1, 3, 7], .f32, -2...2), try r.tensor([c, 1, 1, 1], .f32, 0.5...1.5),
                                     try r.tensor([c, 1, 1, 1], .f32, -0.5...0.5)]
                                },
                                run: { b, t in try b.l2NormSiLU(t[0], gamma: t[1], bias: t[2], eps: 1e-12, outputType: .bf16) },
                                reference: { b, t in try composed(b, t[0], t[1], t[2], .bf16) }))
        }
        return cases
    }
}
