import Foundation
import Testing
import TensorCore
@testable import BackendCPU

/// Every op on fresh random inputs against a naive float64 loop.
@Suite struct RandomizedOpsTests {
    let cpu = CPUBackend()

    @Test func broadcastBinaryOnStridedViews() throws {
        var rng = SeededGenerator(seed: 1)
        let a = try randomTensor([5, 3, 4], &rng).permuted([2, 0, 1])      // [4, 5, 3], strided
        let b = try randomTensor([5, 1], &rng, range: 0.5...2)              // broadcasts to [4, 5, 3]
        let av = try a.floats(), bv = try b.floats()
        for op in BinaryOp.allCases {
            let y = try cpu.binary(op, a, b)
            #expect(y.shape == [4, 5, 3])
            var ref = [Double]()
            for i in 0..<60 {
                let idx = multiIndex(i, [4, 5, 3])
                let x = Double(av[i]), z = Double(bv[idx[1]])
                switch op {
                case .add: ref.append(x + z)
                case .sub: ref.append(x - z)
                case .mul: ref.append(x * z)
                case .div: ref.append(x / z)
                case .maximum: ref.append(max(x, z))
                case .minimum: ref.append(min(x, z))
                }
            }
            #expect(relativeError(try y.floats(), ref) < 1e-6, "\(op)")
        }
    }

    @Test func unaryOps() throws {
        var rng = SeededGenerator(seed: 2)
        let x = try randomTensor([7, 33], &rng, range: 0.1...3)
        let xv = try x.floats().map(Double.init)
        for op in UnaryOp.allCases {
            let ref: [Double] = xv.map { v in
                switch op {
                case .neg: -v
                case .exp: Foundation.exp(v)
                case .sqrt: v.squareRoot()
                case .rsqrt: 1 / v.squareRoot()
                case .square: v * v
                case .tanh: Foundation.tanh(v)
                case .sigmoid: 1 / (1 + Foundation.exp(-v))
                case .silu: v / (1 + Foundation.exp(-v))
                case .geluTanh: 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
                case .geluErf: 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
                }
            }
            #expect(relativeError(try cpu.unary(op, x).floats(), ref) < 1e-6, "\(op)")
        }
    }

    @Test func normsAgainstFloat64() throws {
        var rng = SeededGenerator(seed: 3)
        let (rows, n) = (9, 40)
        let x = try randomTensor([rows, n], &rng, range: -3...5)
        let w = try randomTensor([n], &rng), b = try randomTensor([n], &rng)
        let xv = try x.floats().map(Double.init), wv = try w.floats().map(Double.init), bv = try b.floats().map(Double.init)
        var ln = [Double](), rms = [Double](), sm = [Double]()
        for r in 0..<rows {
            let row = Array(xv[r * n ..< (r + 1) * n])
            let mean = row.reduce(0, +) / Double(n)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            ln += row.enumerated().map { ($0.element - mean) / (variance + 1e-6).squareRoot() * wv[$0.offset] + bv[$0.offset] }
            let ms = row.map { $0 * $0 }.reduce(0, +) / Double(n)
            rms += row.enumerated().map { $0.element / (ms + 1e-6).squareRoot() * wv[$0.offset] }
            let mx = row.max()!
            let ex = row.map { Foundation.exp($0 - mx) }
            sm += ex.map { $0 / ex.reduce(0, +) }
        }
        #expect(relativeError(try cpu.layerNorm(x, weight: w, bias: b, eps: 1e-6).floats(), ln) < 1e-6)
        #expect(relativeError(try cpu.rmsNorm(x, weight: w, eps: 1e-6).floats(), rms) < 1e-6)
        #expect(relativeError(try cpu.softmax(x).floats(), sm) < 1e-6)
    }

    @Test func l2NormOverChannelsOf5D() throws {
        var rng = SeededGenerator(seed: 4)
        let shape = [2, 6, 3, 4, 5]
        let x = try randomTensor(shape, &rng)
        let gamma = try randomTensor([6, 1, 1, 1], &rng)
        let xv = try x.floats().map(Double.init), gv = try gamma.floats().map(Double.init)
        var ref = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var idx = multiIndex(i, shape)
            var ss = 0.0
            for c in 0..<6 { idx[1] = c; ss += xv[linearIndex(idx, shape)] * xv[linearIndex(idx, shape)] }
            let c = multiIndex(i, shape)[1]
            ref[i] = xv[i] / max(ss.squareRoot(), 1e-12) * 6.0.squareRoot() * gv[c]
        }
        #expect(relativeError(try cpu.l2Norm(x, dim: 1, gamma: gamma, bias: nil, eps: 1e-12).floats(), ref) < 1e-6)
    }

    @Test(arguments: [DType.f32, .bf16, .f16])
    func batchedMatmulWithBias(weightType: DType) throws {
        var rng = SeededGenerator(seed: 5)
        let (batch, m, k, n) = (3, 13, 37, 21)
        let a = try randomTensor([batch, m, k], &rng)
        let w = try randomTensor([n, k], &rng, dtype: weightType)     // Linear layout
        let bias = try randomTensor([n], &rng)
        let av = try a.floats(), wv = try w.floats(), bv = try bias.floats()
        var ref = [Double](repeating: 0, count: batch * m * n)
        for bi in 0..<batch { for i in 0..<m { for j in 0..<n {
            var s = Double(bv[j])
            for p in 0..<k { s += Double(av[(bi * m + i) * k + p]) * Double(wv[j * k + p]) }
            ref[(bi * m + i) * n + j] = s
        } } }
        let y = try cpu.matmul(a, w, transposeB: true, bias: bias, outputType: .f32)
        #expect(y.shape == [batch, m, n])
        #expect(relativeError(try y.floats(), ref) < 1e-6)
        // Batched B with a permuted A (not mergeable into one GEMM).
        let b3 = try randomTensor([batch, k, n], &rng)
        let ap = try randomTensor([m, batch, k], &rng).permuted([1, 0, 2])
        let apv = try ap.floats(), b3v = try b3.floats()
        var ref2 = [Double](repeating: 0, count: batch * m * n)
        for bi in 0..<batch { for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(apv[(bi * m + i) * k + p]) * Double(b3v[(bi * k + p) * n + j]) }
            ref2[(bi * m + i) * n + j] = s
        } } }
        #expect(relativeError(try cpu.matmul(ap, b3).floats(), ref2) < 1e-6)
    }

    @Test(arguments: [(37, 70, 24, 24, false), (16, 64, 128, 128, true), (5, 3, 8, 12, true)])
    func attentionMatchesNaiveSoftmax(lq: Int, lk: Int, d: Int, dv: Int, withBias: Bool) throws {
        var rng = SeededGenerator(seed: UInt64(lq * 1000 + lk))
        let (b, h) = (2, 3)
        let q = try randomTensor([b, h, lq, d], &rng), k = try randomTensor([b, h, lk, d], &rng)
        let v = try randomTensor([b, h, lk, dv], &rng)
        let bias: Tensor? = withBias ? try randomTensor([h, lq, lk], &rng) : nil   // broadcast over batch
        let scale = 1 / Float(d).squareRoot()
        let qv = try q.floats(), kv = try k.floats(), vv = try v.floats(), bv = try bias?.floats()
        var ref = [Double](repeating: 0, count: b * h * lq * dv)
        for bh in 0..<(b * h) { for i in 0..<lq {
            var s = [Double](repeating: 0, count: lk)
            for j in 0..<lk {
                var dot = 0.0
                for c in 0..<d { dot += Double(qv[(bh * lq + i) * d + c]) * Double(kv[(bh * lk + j) * d + c]) }
                s[j] = dot * Double(scale) + (bv.map { Double($0[((bh % h) * lq + i) * lk + j]) } ?? 0)
            }
            let mx = s.max()!
            let e = s.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
            for c in 0..<dv {
                var o = 0.0
                for j in 0..<lk { o += e[j] / z * Double(vv[(bh * lk + j) * dv + c]) }
                ref[(bh * lq + i) * dv + c] = o
            }
        } }
        let y = try cpu.attention(q: q, k: k, v: v, scale: scale, bias: bias)
        #expect(y.shape == [b, h, lq, dv])
        #expect(relativeError(try y.floats(), ref) < 1e-6)
    }

    @Test func rotaryWithWanTables() throws {
        var rng = SeededGenerator(seed: 6)
        let (f, hh, ww, heads, d) = (3, 2, 4, 2, 64)
        let l = f * hh * ww
        let x = try randomTensor([1, l, heads, d], &rng)
        let (cosT, sinT) = try Rope3D.tables(frames: f, height: hh, width: ww, headDim: d)
        let split = Rope3D.slotSplit(headDim: d)
        #expect(split.t == 12 && split.h == 10 && split.w == 10)
        #expect(Rope3D.slotSplit(headDim: 128) == (22, 21, 21))
        let xv = try x.floats()
        var ref = [Double](repeating: 0, count: x.count)
        for token in 0..<l {
            let pos = [token / (hh * ww), (token / ww) % hh, token % ww]
            for head in 0..<heads { for j in 0..<(d / 2) {
                let (group, slot, n) = j < split.t ? (0, j, split.t) : j < split.t + split.h ? (1, j - split.t, split.h) : (2, j - split.t - split.h, split.w)
                let angle = Double(pos[group]) * pow(10000, -Double(slot) / Double(n))
                let base = (token * heads + head) * d + 2 * j
                let re = Double(xv[base]), im = Double(xv[base + 1])
                ref[base] = re * cos(angle) - im * sin(angle)
                ref[base + 1] = re * sin(angle) + im * cos(angle)
            } }
        }
        #expect(relativeError(try cpu.rotary(x, cos: cosT, sin: sinT).floats(), ref) < 1e-6)
    }

    @Test(arguments: [([1, 1, 1], [Padding(2, 0), Padding(1, 1), Padding(1, 1)], [3, 3, 3]),
                      ([2, 1, 1], [Padding(2, 0), .none, .none], [3, 1, 1]),
                      ([1, 2, 2], [.none, Padding(0, 1), Padding(0, 1)], [1, 3, 3]),
                      ([1, 1, 1], [.none, .none, .none], [1, 1, 1])])
    func conv3dAgainstDirectLoop(stride: [Int], padding: [Padding], kernel: [Int]) throws {
        var rng = SeededGenerator(seed: UInt64(stride.reduce(0, +) * 10 + kernel.reduce(0, +)))
        let (nb, c, o, t, h, w) = (2, 5, 4, 5, 6, 7)
        let x = try randomTensor([nb, c, t, h, w], &rng)
        let wt = try randomTensor([o, c] + kernel, &rng, dtype: .bf16)
        let bias = try randomTensor([o], &rng)
        let y = try cpu.conv3d(x, weight: wt, bias: bias, stride: stride, padding: padding)
        let ins = [t, h, w]
        let outs = (0..<3).map { (ins[$0] + padding[$0].before + padding[$0].after - kernel[$0]) / stride[$0] + 1 }
        #expect(y.shape == [nb, o] + outs)
        let xv = try x.floats(), wv = try wt.floats(), bv = try bias.floats()
        var ref = [Double](repeating: 0, count: y.count)
        for i in 0..<y.count {
            let idx = multiIndex(i, y.shape)
            var s = Double(bv[idx[1]])
            for ci in 0..<c { for a in 0..<kernel[0] { for bb in 0..<kernel[1] { for cc in 0..<kernel[2] {
                let z = idx[2] * stride[0] - padding[0].before + a
                let yy = idx[3] * stride[1] - padding[1].before + bb
                let xx = idx[4] * stride[2] - padding[2].before + cc
                guard z >= 0, z < t, yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                s += Double(xv[linearIndex([idx[0], ci, z, yy, xx], x.shape)]) * Double(wv[linearIndex([idx[1], ci, a, bb, cc], wt.shape)])
            } } } }
            ref[i] = s
        }
        #expect(relativeError(try y.floats(), ref) < 1e-6)
    }

    @Test func concatAndPadOfPermutedViews() throws {
        var rng = SeededGenerator(seed: 7)
        let a = try randomTensor([3, 4, 2], &rng).permuted([1, 0, 2])   // [4, 3, 2]
        let b = try randomTensor([4, 1, 2], &rng)
        let c = try cpu.concat([a, b], dim: 1)
        let av = try a.floats(), bv = try b.floats(), cv = try c.floats()
        for i in 0..<4 { for j in 0..<4 { for k in 0..<2 {
            let expected = j < 3 ? av[(i * 3 + j) * 2 + k] : bv[i * 2 + k]
            #expect(cv[(i * 4 + j) * 2 + k] == expected)
        } } }
        let p = try cpu.pad(a, [Padding(2, 0), .none], value: 0)   // causal-style front padding of dim 1
        #expect(p.shape == [4, 5, 2])
        let pv = try p.floats()
        for i in 0..<4 { for j in 0..<5 { for k in 0..<2 {
            #expect(pv[(i * 5 + j) * 2 + k] == (j < 2 ? 0 : av[(i * 3 + j - 2) * 2 + k]))
        } } }
    }
}
