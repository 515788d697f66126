import Foundation
import BackendCPU
import OpCatalogue
import Testing
import TensorCore

/// The sparse-attention and W8A8 cases are mostly f32 cases without a separate reference, which the
/// CPU run of the catalogue skips (they would compare the oracle with itself). These checks make sure
/// each of them runs on the oracle and that the tie case really ties, so a device run tests the kernels
/// and not the catalogue.
@Suite struct SparseAttentionCatalogueTests {
    static let ops: Set<String> = ["slaBlockMap", "blockSparseAttention", "quantizedBlockSparseAttention", "quantizedMatmul"]

    @Test func everySparseAttentionAndW8A8CaseRunsOnTheOracle() throws {
        let cpu = CPUBackend()
        let cases = OpCatalogue.all.filter { Self.ops.contains($0.op) }
        #expect(Set(cases.map(\.op)) == Self.ops)
        for c in cases {
            var rng = CaseRandom(seed: 1)
            let inputs = try c.inputs(&rng)
            let y = try c.run(cpu, inputs)
            #expect(y.count > 0, "\(c.op) \(c.variant)")
            if y.dtype.isFloatingPoint {
                #expect(try y.floats().allSatisfy(\.isFinite), "\(c.op) \(c.variant)")
            }
        }
    }

    @Test func theTieCaseKeepsTheLowestBlocks() throws {
        let c = try #require(OpCatalogue.all.first { $0.op == "slaBlockMap" && $0.variant.contains("tie") })
        var rng = CaseRandom(seed: 1)
        let y = try c.run(CPUBackend(), try c.inputs(&rng))
        let indices = try y.int64s()
        #expect(y.shape == [1, 2, 3, 3])
        #expect(indices == Array(repeating: [0, 1, 2], count: 6).flatMap { $0 })
    }
}

/// The composed SLA linear branch (the values the fused kernels are checked against) rounds to the
/// input type where the reference does, checked in bf16 against a scalar transcription of it.
@Suite struct SLALinearRoundingTests {
    /// φ = softmax over the channels as the CPU computes it, rounded to bf16.
    static func phi(_ x: ArraySlice<Float>) -> [Float] {
        let m = x.max()!
        let e = x.map { expf($0 - m) }
        let inv = 1 / e.reduce(0, +)
        return e.map { BF16.round($0 * inv) }
    }

    /// The linear branch of one head with the reference's rounding points (`rounded`) or rounded only
    /// at the end. q, k, v: [l, d] row-major bf16 values.
    static func branch(q: [Float], k: [Float], v: [Float], l: Int, d: Int, rounded: Bool) -> [Float] {
        let r: (Double) -> Float = { rounded ? BF16.round(Float($0)) : Float($0) }
        let phiK = (0..<l).flatMap { phi(k[($0 * d)..<($0 * d + d)]) }
        var kv = [Float](repeating: 0, count: d * d), kSum = [Float](repeating: 0, count: d)
        for c in 0..<d {
            kSum[c] = r((0..<l).reduce(0.0) { $0 + Double(phiK[$1 * d + c]) })
            for n in 0..<d { kv[c * d + n] = r((0..<l).reduce(0.0) { $0 + Double(phiK[$1 * d + c]) * Double(v[$1 * d + n]) }) }
        }
        var out = [Float](repeating: 0, count: l * d)
        for t in 0..<l {
            let phiQ = phi(q[(t * d)..<(t * d + d)])
            let sum = (0..<d).reduce(0.0) { $0 + Double(rounded ? BF16.round(phiQ[$1] * kSum[$1]) : phiQ[$1] * kSum[$1]) }
            let den = r(Double(r(sum)) + 1e-5)
            for n in 0..<d {
                let num = r((0..<d).reduce(0.0) { $0 + Double(phiQ[$1]) * Double(kv[$1 * d + n]) })
                out[t * d + n] = BF16.round(num / den)
            }
        }
        return out
    }

    @Test func composedBranchRoundsWhereTheReferenceDoes() throws {
        let cpu = CPUBackend()
        let (h, l, d) = (2, 90, 16)
        var rng = CaseRandom(seed: 5)
        let q = try rng.tensor([1, h, l, d], .bf16, -3...3), k = try rng.tensor([1, h, l, d], .bf16, -3...3)
        let v = try rng.tensor([1, h, l, d], .bf16, -3...3)
        let state = try cpu.slaLinearState(k: k, v: v)
        let out = try cpu.slaLinearApply(q: q, kv: state.kv, kSum: state.kSum)
        #expect(out.dtype == .bf16 && out.shape == [1, h, l, d] && state.kv.dtype == .bf16 && state.kSum.shape == [1, h, d])
        let (qf, kf, vf, of) = (try q.floats(), try k.floats(), try v.floats(), try out.floats())
        var flipsRounded = 0, flipsUnrounded = 0
        for head in 0..<h {
            let span = (head * l * d)..<((head + 1) * l * d)
            let args = (Array(qf[span]), Array(kf[span]), Array(vf[span]))
            let withRounding = Self.branch(q: args.0, k: args.1, v: args.2, l: l, d: d, rounded: true)
            let withoutRounding = Self.branch(q: args.0, k: args.1, v: args.2, l: l, d: d, rounded: false)
            for (i, y) in of[span].enumerated() {
                if y != withRounding[i] { flipsRounded += 1 }
                if y != withoutRounding[i] { flipsUnrounded += 1 }
                #expect(abs(y - withRounding[i]) <= abs(withRounding[i]) / 64, "element \(i) of head \(head)")
            }
        }
        // Summation order may move a rare rounding (none here); skipping the intermediate roundings
        // moves about half of the outputs.
        #expect(flipsRounded * 100 <= h * l * d, "\(flipsRounded) of \(h * l * d) differ from the reference's rounding")
        #expect(flipsUnrounded > 5 * max(flipsRounded, 1), "\(flipsUnrounded) vs \(flipsRounded): the rounding points are not visible")
    }
}
