import Checkpoints
import TensorCore

/// Seeded full-size DiT weights in a checkpoint layout, made in memory (benchmarks, CUDA-vs-CPU
/// parity at real shapes, synthetic model sets). One counter-based stream runs over the state dict
/// in key order; element i is t = (splitmix64(seed, i) >> 40)·2⁻²³ − 1 in [-1, 1), and
///
///     *.weight of a matrix → t/√fan_in (activations keep their scale through the layers)
///     norm weights → 1 + 0.1·t;  biases → 0.02·t;  modulation → 0.1·t
///
/// stored as `dtype` (bf16 as the released files, or f32). Values are not a trained model's, but
/// every op sees realistic shapes and magnitudes.
public enum WanDiTRandomWeights {
    public static func stateDict(_ config: WanDiTConfig, layout: WanDiTConfig.Layout, seed: UInt64,
                                 dtype: DType = .bf16) throws -> [NamedTensor] {
        var out: [NamedTensor] = []
        var start: UInt64 = 0
        for (name, shape) in config.checkpointTensors(layout) {
            let n = shape.reduce(1, *)
            let scale: Float, offset: Float
            if name.hasSuffix(".modulation") {
                (scale, offset) = (0.1, 0)
            } else if name.contains("norm") && name.hasSuffix(".weight") {
                (scale, offset) = (0.1, 1)
            } else if name.hasSuffix(".bias") {
                (scale, offset) = (0.02, 0)
            } else {
                (scale, offset) = (Float(1 / Double(shape[1...].reduce(1, *)).squareRoot()), 0)
            }
            let t = try Tensor.hostEmpty(shape, dtype: dtype)
            let raw = UncheckedRawPointer(try t.hostBuffer().base)
            let base = start
            parallelRanges(n) { r in
                for i in r {
                    let z = WanVAERandomWeights.splitmix64(seed, base &+ UInt64(i))
                    let u = Float(z >> 40) * 0x1p-23 - 1
                    storeFloat(offset + scale * u, raw.p, i, dtype)
                }
            }
            out.append(NamedTensor(name: name, tensor: t))
            start &+= UInt64(n)
        }
        return out
    }
}

struct UncheckedRawPointer: @unchecked Sendable {
    let p: UnsafeMutableRawPointer
    init(_ p: UnsafeMutableRawPointer) { self.p = p }
}
