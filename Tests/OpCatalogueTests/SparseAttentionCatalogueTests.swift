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
