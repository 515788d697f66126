import Testing
import TensorCore
import BackendCPU
@testable import Models

/// Linear.geluTanh (the DiT's FFN input and text embedding) on a backend without a fused GEMM
/// epilogue is exactly the product followed by GELU(tanh): dense weights with and without bias,
/// int8 (W8A8) weights, and an input in another dtype than the compute type.
@Suite struct LinearGELUTests {
    let cpu = CPUBackend()

    func tensor(_ shape: [Int], seed: UInt64, dtype: DType, scale: Float = 1) throws -> Tensor {
        var state = seed
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        return try Tensor.host(values, shape: shape, dtype: dtype)
    }

    @Test(arguments: [DType.f32, .bf16])
    func denseEqualsTheComposition(dtype: DType) throws {
        let ctx = ComputeContext(backend: cpu, dtype: dtype)
        for withBias in [true, false] {
            let linear = Linear(weight: try tensor([24, 40], seed: 3, dtype: dtype, scale: 0.3),
                                bias: withBias ? try tensor([24], seed: 4, dtype: dtype) : nil)
            let x = try tensor([2, 9, 40], seed: 5, dtype: .f32, scale: 2)   // converted to the compute type
            let fused = try linear.geluTanh(x, ctx), composed = try cpu.unary(.geluTanh, linear(x, ctx))
            #expect(fused.shape == [2, 9, 24] && fused.dtype == dtype)
            let (a, b) = (try fused.floats(), try composed.floats())
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(dtype), bias \(withBias)")
            #expect(a.contains { $0 < 0 } && a.contains { $0 > 0.5 })   // both sides of GELU's bend
        }
    }

    @Test func int8WeightsTakeTheQuantizedProductThenGELU() throws {
        let ctx = ComputeContext(backend: cpu, dtype: .bf16)
        let values = try Tensor.host((0..<(130 * 40)).map { Float($0 % 255 - 127) }, shape: [130, 40], dtype: .i8)
        let scales = try tensor([2, 1], seed: 8, dtype: .f32, scale: 0.01)
        let linear = Linear(storage: .int8(values: values, scales: scales), bias: try tensor([130], seed: 9, dtype: .bf16))
        let x = try tensor([7, 40], seed: 10, dtype: .bf16, scale: 2)
        let fused = try linear.geluTanh(x, ctx), composed = try cpu.unary(.geluTanh, linear(x, ctx))
        #expect(try fused.floats().map(\.bitPattern) == composed.floats().map(\.bitPattern))
        #expect(fused.shape == [7, 130])
    }
}
