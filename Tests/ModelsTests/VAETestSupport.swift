import TensorCore

/// Uniform values in [-scale, scale) from a fixed 64-bit LCG: the VAE suites' inputs (their
/// expected errors were measured on exactly these values).
func vaeRandomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor {
    var state = seed
    let values = (0..<shape.reduce(1, *)).map { _ -> Float in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(state >> 40) * 0x1p-24 * 2 - 1) * scale
    }
    return try Tensor.host(values, shape: shape)
}
