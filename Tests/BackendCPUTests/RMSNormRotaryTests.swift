#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Testing
import TensorCore
@testable import BackendCPU

/// rmsNormRotary on the CPU: its direct pass equals the composition (rmsNorm, then rotary) bit for
/// bit, and malformed shapes are refused with the shape named.
@Suite struct RMSNormRotaryTests {
    let cpu = CPUBackend()

    func tables(_ l: Int, _ half: Int, _ rng: inout SeededGenerator) throws -> (Tensor, Tensor) {
        let angles = randomValues(l * half, &rng, range: -3.2...3.2)
        return (try Tensor.host(angles.map { Float(Glibc.cos(Double($0))) }, shape: [l, half]), try Tensor.host(angles.map { Float(Glibc.sin(Double($0))) }, shape: [l, half]))
    }

    @Test(arguments: [DType.f32, .bf16, .f16])
    func directPassEqualsTheComposition(dtype: DType) throws {
        var rng = SeededGenerator(seed: 13)
        for (l, heads, d, transposed) in [(33, 12, 128, false), (19, 3, 6, false), (21, 2, 64, true)] {
            let c = heads * d
            let x0 = try randomTensor(transposed ? [c, l] : [l, c], &rng, dtype: dtype, range: -3...3)
            let x = transposed ? try x0.transposed(0, 1) : x0
            let w = try randomTensor([c], &rng, dtype: dtype, range: -1.5...1.5)
            let (cs, sn) = try tables(l, d / 2, &rng)
            let fused = try cpu.rmsNormRotary(x, weight: w, eps: 1e-6, cos: cs, sin: sn, heads: heads)
            let composed = try cpu.composedRMSNormRotary(x, weight: w, eps: 1e-6, cos: cs, sin: sn, heads: heads)
            #expect(fused.shape == [l, heads, d] && fused.dtype == dtype)
            let (a, b) = (try fused.floats(), try composed.floats())
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(dtype) [\(l), \(c)] as \(heads)×\(d)")
            #expect(a.contains { $0 != 0 })
        }
    }

    @Test func malformedShapesAreRefused() throws {
        var rng = SeededGenerator(seed: 5)
        let x = try randomTensor([7, 24], &rng)
        let (cs, sn) = try tables(7, 4, &rng)
        // 5 heads do not divide 24; 8 heads give an odd head dim 3; tables for D 8 given for 4 heads (D 6).
        #expect(throws: TensorError.self) { try cpu.rmsNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 5) }
        #expect(throws: TensorError.self) { try cpu.rmsNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 8) }
        #expect(throws: TensorError.self) { try cpu.rmsNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 4) }
        #expect(throws: TensorError.self) { try cpu.composedRMSNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 4) }
        // 3 heads of 8 match the [7, 4] tables.
        #expect(try cpu.rmsNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 3).shape == [7, 3, 8])
        do {
            _ = try cpu.rmsNormRotary(x, weight: nil, eps: 1e-6, cos: cs, sin: sn, heads: 4)
            Issue.record("tables [7, 4] accepted for a head dim of 6")
        } catch {
            #expect("\(error)".contains("[7, 3]"), "\(error)")
        }
    }
}
