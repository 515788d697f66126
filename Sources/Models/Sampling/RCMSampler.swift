#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// TurboDiffusion's rCM sampler (docs/pipeline.md): TrigFlow time s, σ = tan s, rectified-flow time
/// r = sin s / (sin s + cos s); schedule s = [atan σ_max, 1.5, 1.4, 1.0][:steps] + [0]. The
/// state is kept in float64 as upstream does; each step makes one network call (no CFG).
public struct RCMSampler: Sampler {
    public enum Update: Sendable {
        /// x ← (1 − r_{i+1})·x̂₀ + r_{i+1}·ε_i with fresh noise (upstream's default).
        case sde
        /// x ← x − (r_i − r_{i+1})·v (`--ode`).
        case ode
    }

    public static let midTimes: [Double] = [1.5, 1.4, 1.0]
    public let steps: Int
    public let sigmaMax: Double
    public let update: Update
    /// r_0 … r_steps (the last is 0).
    public let r: [Double]

    public init(steps: Int, sigmaMax: Double, update: Update = .sde) throws {
        guard (1...4).contains(steps) else { throw SamplerError.prediction("rCM runs 1 to 4 steps, got \(steps)") }
        guard sigmaMax > 0, sigmaMax.isFinite else { throw SamplerError.prediction("sigma_max must be positive, got \(sigmaMax)") }
        self.steps = steps
        self.sigmaMax = sigmaMax
        self.update = update
        let s = [atan(sigmaMax)] + Self.midTimes.prefix(steps - 1) + [0]
        r = s.map { sin($0) / (cos($0) + sin($0)) }
    }

    /// 1000·r rounded to bf16, as upstream casts the timestep (987.65 → 988, 933.78 → 932).
    public static func networkTimestep(_ r: Double) -> Double { roundToBF16(1000 * r) }

    /// Round-to-nearest-even to bf16's 8 significant bits, directly from a double (one rounding).
    static func roundToBF16(_ v: Double) -> Double {
        guard v != 0, v.isFinite else { return v }
        let e = v.exponent                          // v = m · 2^e, 1 ≤ |m| < 2
        let ulp = Double(sign: .plus, exponent: e - 7, significand: 1)
        return (v / ulp).rounded(.toNearestOrEven) * ulp
    }

    public var plan: [SamplerStep] {
        (0..<steps).map { SamplerStep(index: $0, count: steps, r: r[$0], timestep: Self.networkTimestep(r[$0])) }
    }

    public func sample(count: Int, noise: NoiseSource, predict: (_ x: [Float], _ step: SamplerStep) throws -> [Float]) throws -> [Float] {
        let eps0 = try noise.initial(count: count)
        var x = eps0.map { Double($0) * r[0] }
        for step in plan {
            let v = try predict(x.map { Float($0) }, step)
            guard v.count == count else { throw SamplerError.prediction("returned \(v.count) values for a latent of \(count)") }
            let (ri, rn) = (r[step.index], r[step.index + 1])
            switch update {
            case .sde:
                let eps = rn > 0 ? try noise.step(step.index, count: count) : [Float](repeating: 0, count: count)
                for n in 0..<count { x[n] = (x[n] - Double(v[n]) * ri) * (1 - rn) + Double(eps[n]) * rn }
            case .ode:
                for n in 0..<count { x[n] -= Double(v[n]) * (ri - rn) }
            }
        }
        return x.map { Float($0) }
    }
}
