#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport
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
        guard eps0.count == count else { throw SamplerError.noise("initial noise has \(eps0.count) values, the latent \(count)") }
        var x = [Double](repeating: 0, count: count)      // the state, float64 as upstream keeps it
        var input = [Float](repeating: 0, count: count)   // x rounded to f32: what the network sees
        let r0 = r[0]
        Self.update(&x, &input, with: eps0) { _, e in Double(e) * r0 }
        for step in plan {
            let (ri, rn) = (r[step.index], r[step.index + 1])
            // The next noise does not depend on the prediction: it is drawn while the network runs.
            let pending = update == .sde && rn > 0 ? PendingNoise(noise, step: step.index, count: count) : nil
            let v = try predict(input, step)
            guard v.count == count else { throw SamplerError.prediction("returned \(v.count) values for a latent of \(count)") }
            switch update {
            case .sde:
                if let eps = try pending?.values() {
                    guard eps.count == count else { throw SamplerError.noise("step \(step.index) noise has \(eps.count) values, the latent \(count)") }
                    Self.update(&x, &input, with: v, eps) { x, v, e in (x - Double(v) * ri) * (1 - rn) + Double(e) * rn }
                } else {
                    // The last step adds no noise; + 0·r keeps the sum's rounding (−0 becomes +0) as ε = 0 would.
                    Self.update(&x, &input, with: v) { x, v in (x - Double(v) * ri) * (1 - rn) + 0 * rn }
                }
            case .ode:
                Self.update(&x, &input, with: v) { x, v in x - Double(v) * (ri - rn) }
            }
        }
        return input
    }

    /// x[n] ← f(x[n], a[n]) and rounded[n] ← Float(x[n]) for every n, over chunks on all cores.
    @inline(__always)
    static func update(_ x: inout [Double], _ rounded: inout [Float], with a: [Float],
                       _ f: (Double, Float) -> Double) {
        update(&x, &rounded, with: a, a) { x, a, _ in f(x, a) }
    }

    /// x[n] ← f(x[n], a[n], b[n]) and rounded[n] ← Float(x[n]) for every n, over chunks on all cores.
    @inline(__always)
    static func update(_ x: inout [Double], _ rounded: inout [Float], with a: [Float], _ b: [Float],
                       _ f: (Double, Float, Float) -> Double) {
        precondition(x.count == rounded.count && a.count == x.count && b.count == x.count)
        x.withUnsafeMutableBufferPointer { xs in
            rounded.withUnsafeMutableBufferPointer { out in
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        let p = UncheckedSendable((xs.baseAddress, out.baseAddress, ap.baseAddress, bp.baseAddress))
                        forEachChunk(xs.count) { range in
                            guard let xs = p.value.0, let out = p.value.1, let ap = p.value.2, let bp = p.value.3 else { return }
                            for n in range {
                                let y = f(xs[n], ap[n], bp[n])
                                xs[n] = y
                                out[n] = Float(y)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Elements per task of the chunked loops (a 480p latent of 2.1 M values is 8 tasks).
    static let chunk = 1 << 18

    /// body(range) over 0..<count in chunks, concurrently when there is more than one. The
    /// pointers a body writes must be disjoint per range.
    static func forEachChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
        let chunks = (count + chunk - 1) / chunk
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { k in
                task.value(k * chunk..<min(count, (k + 1) * chunk))
            }
        }
    }
}

/// One step's noise, drawn on another thread while the caller waits for the network.
final class PendingNoise: @unchecked Sendable {
    private let done = DispatchGroup()
    private var result: Result<[Float], any Error> = .success([])

    init(_ source: NoiseSource, step: Int, count: Int) {
        let source = UncheckedSendable(source)
        done.enter()
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = Result { try source.value.step(step, count: count) }
            self.done.leave()
        }
    }

    /// The noise (waits until drawn), or the source's error.
    func values() throws -> [Float] {
        done.wait()
        return try result.get()
    }
}
