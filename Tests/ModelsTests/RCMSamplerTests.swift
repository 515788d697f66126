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

/// The chunked, concurrent update against the loop it replaces, written out serially: the same
/// bits for a latent of several chunks (with a ragged last one), both updates, 1 to 4 steps.
@Suite struct RCMSamplerChunkingTests {
    static func serial(_ sampler: RCMSampler, count: Int, noise: NoiseSource, predict: ([Float], SamplerStep) -> [Float]) throws -> [Float] {
        let r = sampler.r
        var x = try noise.initial(count: count).map { Double($0) * r[0] }
        for step in sampler.plan {
            let v = predict(x.map { Float($0) }, step)
            let (ri, rn) = (r[step.index], r[step.index + 1])
            switch sampler.update {
            case .sde:
                let eps = rn > 0 ? try noise.step(step.index, count: count) : [Float](repeating: 0, count: count)
                for n in 0..<count { x[n] = (x[n] - Double(v[n]) * ri) * (1 - rn) + Double(eps[n]) * rn }
            case .ode:
                for n in 0..<count { x[n] -= Double(v[n]) * (ri - rn) }
            }
        }
        return x.map { Float($0) }
    }

    @Test(arguments: [(4, RCMSampler.Update.sde), (3, .sde), (1, .sde), (4, .ode), (2, .ode)])
    func chunkedUpdateEqualsSerialLoop(_ steps: Int, _ update: RCMSampler.Update) throws {
        let sampler = try RCMSampler(steps: steps, sigmaMax: 80, update: update)
        let count = 2 * RCMSampler.chunk + 12_345
        // A velocity that depends on x and the step, with exact zeros and negative zeros mixed in.
        let predict: ([Float], SamplerStep) -> [Float] = { x, step in
            x.enumerated().map { n, v in n % 97 == 0 ? (n % 2 == 0 ? 0 : -0.0) : v * 0.75 - Float(step.r) * Float(n % 7) }
        }
        let expected = try Self.serial(sampler, count: count, noise: PhiloxNoise(seed: 11), predict: predict)
        let got = try sampler.sample(count: count, noise: PhiloxNoise(seed: 11), predict: predict)
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func noiseErrorsSurfaceAfterThePrediction() throws {
        let sampler = try RCMSampler(steps: 2, sigmaMax: 80)
        let short = InjectedNoise(initial: [Float](repeating: 0.5, count: 8), steps: [])
        var calls = 0
        #expect(throws: SamplerError.self) {
            _ = try sampler.sample(count: 8, noise: short) { x, _ in calls += 1; return x }
        }
        #expect(calls == 1)
    }
}
