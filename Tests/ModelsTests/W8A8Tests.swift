import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// W8A8 against the PyTorch transcription in scripts/reference/w8a8_reference.py.
@Suite struct W8A8Tests {
    func load(_ mode: LinearMode) throws -> (WanDiT, Checkpoint, WeightStore) {
        let ckpt = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_quant_hd128.pth"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors)
        config.textLength = 16
        let store = WeightStore(ckpt, backend: CPUBackend(), linearMode: mode)
        return (try WanDiT(store, config: config), ckpt, store)
    }

    func forward(_ model: WanDiT) throws -> (ours: [Float], reference: [Float]) {
        let io = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_quant_hd128_io.safetensors"))
        let out = try model(x: io.tensor("x"), timestep: Double(try io.tensor("t").floats()[0]), context: io.tensor("context"),
                            ComputeContext(backend: CPUBackend(), dtype: .f32))
        return (try out.floats(), try io.tensor("out").floats())
    }

    @Test func quantizedCheckpointRunsW8A8LikeTheReference() throws {
        let (model, ckpt, store) = try load(.w8a8)
        #expect(store.isQuantized && ckpt.recognition.quantized)
        let r = try forward(model)
        let err = relativeL2(r.ours, r.reference)
        #expect(err <= 1e-4, "relative L2 error \(err)")
    }

    @Test func dequantizedPathIsCloseButNotIdentical() throws {
        // Without --quant_linear the same file runs with W = int8·scale and unquantized activations:
        // close to the W8A8 reference (activation rounding only), but measurably different.
        let r = try forward(try load(.dense).0)
        let err = relativeL2(r.ours, r.reference)
        #expect(err > 1e-4 && err < 5e-2, "relative L2 error \(err)")
    }

    @Test func quantizerMatchesTheRule() throws {
        // One 128×128 block with amax 2.56: scale 0.02, values rounded half to even and saturated.
        var x = [Float](repeating: 0, count: 130 * 3)
        x[0] = 2.56; x[1] = 0.01; x[2] = -0.03; x[3] = 0.05   // 0.5 → 0, −1.5 → −2, 2.5 → 2
        x[128 * 3 + 1] = -1   // second row block: amax 1
        let q = x.withUnsafeBufferPointer { BlockQuantization.quantize($0.baseAddress!, rows: 130, cols: 3) }
        #expect(q.scales == [0.02, 1.0 / 128])
        #expect(Array(q.values.prefix(4)) == [127, 0, -2, 2])  // 2.56/0.02 = 128 saturates to 127
        #expect(q.values[128 * 3 + 1] == -128)
    }

    @Test func foldIsOneFusedMultiplyAddPerKBlock() throws {
        // acc = fma(float(partial), sx·sw, acc) per K block (upstream's epilogue as nvcc contracts it),
        // bit for bit; the older definition (float(partial)·sx)·sw + acc, three roundings, must differ
        // somewhere among these outputs or the case does not tell the two apart.
        var state: UInt64 = 5
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 20001) / 7001 - 1.4
        }
        let (m, k, n) = (3, 300, 70)
        let xv = (0..<(m * k)).map { _ in next() }
        let wv = (0..<(n * k)).map { _ in Float(Int(next() * 85)) }   // within [-119, 123]
        let sw: [Float] = [0.0137, 0.00291, 0.0711]
        let y = try CPUBackend().quantizedMatmul(Tensor.host(xv, shape: [m, k]),
                                                 weight: Tensor.host(wv, shape: [n, k], dtype: .i8),
                                                 scales: Tensor.host(sw, shape: [1, 3]), bias: nil, outputType: .f32).floats()
        let q = xv.withUnsafeBufferPointer { BlockQuantization.quantize($0.baseAddress!, rows: m, cols: k) }
        var older = 0
        for r in 0..<m { for j in 0..<n {
            var fused: Float = 0, separate: Float = 0
            for b in 0..<3 {
                var p: Int32 = 0
                for i in (b * 128)..<min(k, b * 128 + 128) { p += Int32(q.values[r * k + i]) * Int32(wv[j * k + i]) }
                fused = fused.addingProduct(Float(p), q.scales[b] * sw[b])
                separate = separate + (Float(p) * q.scales[b]) * sw[b]
            }
            #expect(y[r * n + j].bitPattern == fused.bitPattern, "row \(r) column \(j)")
            if separate.bitPattern != fused.bitPattern { older += 1 }
        } }
        #expect(older > 0)
    }

    @Test func w8a8OpAgainstDequantizedProduct() throws {
        // Integer activations with 128 in every block: scale 1, values kept exactly except 128, which
        // saturates to 127 (a block's amax element always lands on 128 under scale = amax/128).
        let cpu = CPUBackend()
        var rng = SystemRandomNumberGenerator()
        let (m, k, n) = (5, 200, 130)
        let xv = (0..<(m * k)).map { i in i % 7 == 0 ? Float(128) : Float(Int.random(in: -127...127, using: &rng)) }
        let wv = (0..<(n * k)).map { _ in Float(Int.random(in: -128...127, using: &rng)) }
        let w = try Tensor.host(wv, shape: [n, k], dtype: .i8)
        let scales = try Tensor.host([0.5, 0.25, 2, 1], shape: [2, 2])
        let y = try cpu.quantizedMatmul(Tensor.host(xv, shape: [m, k]), weight: w, scales: scales, bias: nil, outputType: .f32).floats()
        for r in 0..<m { for j in 0..<n {
            var expected = 0.0
            for i in 0..<k { expected += Double(min(xv[r * k + i], 127)) * Double(wv[j * k + i]) * [0.5, 0.25, 2, 1][(j / 128) * 2 + i / 128] }
            #expect(abs(Double(y[r * n + j]) - expected) <= 1e-6 * max(1, abs(expected)))
        } }
    }
}

/// The parallel quantizer is the sequential one split into independent 128-row bands.
@Suite struct ParallelQuantizationTests {
    @Test func bandsGiveTheSameBytes() {
        var state: UInt64 = 11
        let (rows, cols) = (300, 130)
        let x = (0..<(rows * cols)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2001) / 500 - 2
        }
        let a = x.withUnsafeBufferPointer { BlockQuantization.quantize($0.baseAddress!, rows: rows, cols: cols) }
        let b = x.withUnsafeBufferPointer { BlockQuantization.quantizeParallel($0.baseAddress!, rows: rows, cols: cols) }
        #expect(a.values == b.values && a.scales == b.scales)
    }
}
