import Testing
import TensorCore
import BackendCPU
import Checkpoints
import Models
@testable import Pipeline

/// `SequenceParallelVelocityModel` (docs/multi-gpu.md) with CPU ranks and `InProcessGroup`.
@Suite struct SequenceParallelVelocityModelTests {
    static let config = WanDiTConfig(dim: 64, ffnDim: 96, numHeads: 4, numLayers: 2, inChannels: 16, outChannels: 16, textDim: 32,
                                     textLength: 8, frequencyDim: 32)

    func ranks(_ n: Int, group: InProcessGroup) throws -> [SequenceParallelVelocityModel.Rank] {
        let tensors = try WanDiTRandomWeights.stateDict(Self.config, layout: .official, seed: 5, dtype: .f32)
        return try (0..<n).map { r in
            let b = CPUBackend()
            let model = try WanDiT(WeightStore(tensors, source: "random", backend: b), config: Self.config)
            return .init(model: model, context: ComputeContext(backend: b, dtype: .f32),
                         parallelism: SequenceParallelism(try group.communicator(rank: r, backend: b), alignment: 8))
        }
    }

    @Test func velocityOnFourRanksEqualsOneDevice() throws {
        let group = try InProcessGroup(size: 4)
        let parallel = try SequenceParallelVelocityModel(ranks: ranks(4, group: group), abort: { group.abort($0) })
        let single = DiTVelocityModel(parallel.ranks[0].model, context: parallel.ranks[0].context)
        let x = try Tensor.host((0..<(16 * 2 * 8 * 8)).map { Float(($0 * 29) % 31) / 15 - 1 }, shape: [16, 2, 8, 8])
        let text = try Tensor.host((0..<(6 * 32)).map { Float(($0 * 7) % 19) / 9 - 1 }, shape: [6, 32])
        // Two steps: the group's exchanges continue across calls.
        for t in [900.0, 450.0] {
            let expected = try single.velocity(x: x, timestep: t, context: text).floats()
            let got = try parallel.velocity(x: x, timestep: t, context: text)
            #expect(got.shape == [16, 2, 8, 8])
            let err = relativeL2(try got.floats(), expected)
            #expect(err <= 1e-6, "t \(t): relative L2 \(err)")
        }
    }

    @Test func ranksMustMatchTheirCommunicators() throws {
        let group = try InProcessGroup(size: 2)
        var r = try ranks(2, group: group)
        r.swapAt(0, 1)
        #expect(throws: TensorError.self) { try SequenceParallelVelocityModel(ranks: r, abort: { _ in }) }
        let three = try InProcessGroup(size: 3)
        #expect(throws: TensorError.self) { try SequenceParallelVelocityModel(ranks: ranks(3, group: three), abort: { _ in }) }
    }
}

private func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
    return (num / max(den, 1e-30)).squareRoot()
}
