import TensorCore

/// Where a sampler's Gaussian noise comes from: the initial latent noise and, for stochastic
/// samplers, fresh noise after each step.
public protocol NoiseSource {
    /// ε₀: `count` standard normals for the starting latent.
    func initial(count: Int) throws -> [Float]
    /// ε for the update after step `step` (0-based).
    func step(_ step: Int, count: Int) throws -> [Float]
}

/// Seeded noise that is identical on every machine and backend: Philox stream 0 for the initial
/// latent, stream i + 1 for the noise after step i. Sample k of a batch reads elements
/// [k·count, (k+1)·count) of each stream, as if the batch's noise were drawn as one tensor.
public struct PhiloxNoise: NoiseSource, Sendable {
    public let seed: UInt64
    public let sample: Int
    public init(seed: UInt64, sample: Int = 0) {
        self.seed = seed
        self.sample = sample
    }
    public func initial(count: Int) -> [Float] { Philox(seed: seed, stream: 0).normals(count: count, offset: sample * count) }
    public func step(_ step: Int, count: Int) -> [Float] {
        Philox(seed: seed, stream: UInt64(step) + 1).normals(count: count, offset: sample * count)
    }
}

/// Noise given up front (tests, reproducing another implementation's trajectory).
public struct InjectedNoise: NoiseSource {
    public let initialNoise: [Float]
    public let stepNoise: [[Float]]
    public init(initial: [Float], steps: [[Float]]) {
        initialNoise = initial
        stepNoise = steps
    }
    public func initial(count: Int) throws -> [Float] { try checked(initialNoise, count, "initial") }
    public func step(_ step: Int, count: Int) throws -> [Float] {
        guard step < stepNoise.count else { throw SamplerError.noise("no injected noise for step \(step)") }
        return try checked(stepNoise[step], count, "step \(step)")
    }
    private func checked(_ v: [Float], _ count: Int, _ what: String) throws -> [Float] {
        guard v.count == count else { throw SamplerError.noise("injected \(what) noise has \(v.count) values, the latent \(count)") }
        return v
    }
}

public enum SamplerError: Error, CustomStringConvertible {
    case noise(String)
    case prediction(String)
    public var description: String {
        switch self {
        case let .noise(m): "noise: \(m)"
        case let .prediction(m): "network prediction: \(m)"
        }
    }
}

/// One network evaluation a sampler asks for.
public struct SamplerStep: Sendable {
    /// 0-based index and the number of evaluations in all.
    public let index: Int, count: Int
    /// Rectified-flow time r ∈ [0, 1] of the latent being denoised (1 = pure noise).
    public let r: Double
    /// The timestep handed to the network (already rounded as upstream feeds it).
    public let timestep: Double
}

/// A few-step (or many-step) sampling schedule behind one interface, so other schedules (e.g.
/// the original 50-step flow UniPC with CFG) can be added beside rCM.
public protocol Sampler: Sendable {
    /// The evaluations the sampler will make, in order.
    var plan: [SamplerStep] { get }
    /// Runs the loop over a latent of `count` values. `predict(x, step)` returns the network's
    /// velocity v ≈ ε − x₀ for `x`; it may throw to cancel. Returns the final latent.
    func sample(count: Int, noise: NoiseSource, predict: (_ x: [Float], _ step: SamplerStep) throws -> [Float]) throws -> [Float]
}
