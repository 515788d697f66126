import Checkpoints
import SystemSupport
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
    /// Every tensor of the layout with the stream position of its first element.
    public static func entries(_ config: WanDiTConfig, layout: WanDiTConfig.Layout) -> [(key: String, shape: [Int], start: UInt64)] {
        var start: UInt64 = 0
        return config.checkpointTensors(layout).map { entry in
            defer { start &+= UInt64(entry.shape.reduce(1, *)) }
            return (entry.key, entry.shape, start)
        }
    }

    /// Writes the values of tensor `key` (stream position `start`) into `out` as `dtype`.
    public static func fill(key: String, shape: [Int], start: UInt64, seed: UInt64, into out: UnsafeMutableRawPointer, dtype: DType) {
        let n = shape.reduce(1, *)
        let scale: Float, offset: Float
        if key.hasSuffix(".modulation") {
            (scale, offset) = (0.1, 0)
        } else if key.contains("norm") && key.hasSuffix(".weight") {
            (scale, offset) = (0.1, 1)
        } else if key.hasSuffix(".bias") {
            (scale, offset) = (0.02, 0)
        } else {
            (scale, offset) = (Float(1 / Double(shape[1...].reduce(1, *)).squareRoot()), 0)
        }
        let raw = UncheckedSendable(out)
        parallelRanges(n) { r in
            for i in r {
                let z = WanVAERandomWeights.splitmix64(seed, start &+ UInt64(i))
                let u = Float(z >> 40) * 0x1p-23 - 1
                storeFloat(offset + scale * u, raw.value, i, dtype)
            }
        }
    }

    public static func stateDict(_ config: WanDiTConfig, layout: WanDiTConfig.Layout, seed: UInt64,
                                 dtype: DType = .bf16) throws -> [NamedTensor] {
        try entries(config, layout: layout).map { e in
            let t = try Tensor.hostEmpty(e.shape, dtype: dtype)
            fill(key: e.key, shape: e.shape, start: e.start, seed: seed, into: try t.hostBuffer().base, dtype: dtype)
            return NamedTensor(name: e.key, tensor: t)
        }
    }
}
