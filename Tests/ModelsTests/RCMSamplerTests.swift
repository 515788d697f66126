import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// The rCM loop against a transcription of upstream's (scripts/reference/make_sampler_fixtures.py),
/// with the tiny reference DiT as the network and the reference's noise injected.
@Suite struct RCMSamplerTests {
    @Test func timestepsAreRoundedToBF16LikeUpstream() throws {
        #expect(RCMSampler.roundToBF16(987.65) == 988 && RCMSampler.roundToBF16(933.78) == 932)
        #expect(RCMSampler.roundToBF16(852.9) == 852 && RCMSampler.roundToBF16(608.98) == 608)
        #expect(RCMSampler.roundToBF16(995.02) == 996)
        #expect(try RCMSampler(steps: 4, sigmaMax: 80).plan.map(\.timestep) == [988, 932, 852, 608])
        #expect(try RCMSampler(steps: 2, sigmaMax: 200).plan.map(\.timestep) == [996, 932])
        // Agrees with the float path everywhere bf16 can represent the value exactly or by RNE.
        for v in stride(from: 0.5, to: 1000, by: 0.37) {
            #expect(RCMSampler.roundToBF16(v) == Double(BF16.round(Float(v))))
        }
    }

    @Test func rejectsBadSettings() {
        #expect(throws: SamplerError.self) { try RCMSampler(steps: 5, sigmaMax: 80) }
        #expect(throws: SamplerError.self) { try RCMSampler(steps: 0, sigmaMax: 80) }
        #expect(throws: SamplerError.self) { try RCMSampler(steps: 2, sigmaMax: -1) }
    }

    @Test(arguments: ["sde4", "sde2", "ode3", "sde1"])
    func trajectoryMatchesReference(_ name: String) throws {
        let cpu = CPUBackend()
        let ckpt = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64.safetensors"))
        var config = try WanDiTConfig.detect(tensors: ckpt.unprefixedTensors, headDim: 64)
        config.textLength = 16
        let model = try WanDiT(WeightStore(ckpt, backend: cpu), config: config)
        let context = try Checkpoint.open(path: WanDiTParityTests.fixture("dit_t2v_hd64_io.safetensors")).tensor("context")

        let f = try Checkpoint.open(path: WanDiTParityTests.fixture("sampler_\(name).safetensors"))
        let settings = try f.tensor("settings").floats()
        let sampler = try RCMSampler(steps: Int(settings[0]), sigmaMax: Double(settings[1]), update: settings[2] == 1 ? .ode : .sde)
        #expect(sampler.plan.map { Float($0.timestep) } == (try f.tensor("timesteps").floats()))
        let noise = try f.tensor("noise")                       // [steps + 1, 16, 3, 4, 6]
        let count = noise.shape.dropFirst().reduce(1, *)
        let all = try noise.floats()
        let injected = InjectedNoise(initial: Array(all[0..<count]),
                                     steps: (1..<noise.shape[0]).map { Array(all[($0 * count)..<(($0 + 1) * count)]) })
        var calls: [Double] = []
        let out = try sampler.sample(count: count, noise: injected) { x, step in
            calls.append(step.timestep)
            return try model(x: Tensor.host(x, shape: [16, 3, 4, 6]), timestep: step.timestep, context: context,
                             ComputeContext(backend: cpu, dtype: .f32)).floats()
        }
        #expect(calls.count == sampler.steps)
        let err = relativeL2(out, try f.tensor("out").floats())
        #expect(err <= 1e-4, "\(name): relative L2 error \(err)")
    }

    @Test func seededNoiseIsReproducible() throws {
        let sampler = try RCMSampler(steps: 2, sigmaMax: 80)
        func run(_ seed: UInt64) throws -> [Float] {
            try sampler.sample(count: 64, noise: PhiloxNoise(seed: seed)) { x, _ in x.map { $0 * 0.5 } }
        }
        #expect(try run(3) == run(3))
        #expect(try run(3) != run(4))
    }
}
