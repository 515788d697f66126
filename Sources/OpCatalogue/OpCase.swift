import TensorCore

/// One entry of the op catalogue: an op on one shape/layout/dtype variant, with its inputs made
/// from a seed, the call under test and the error bound.
///
/// A backend under test runs `run` on its own copies of the inputs; the reference is the CPU
/// backend (the oracle) running `reference` (default: `run`) on the host inputs. Fused ops set
/// `reference` to their composition of primitives, so the fast kernel is checked against the
/// fallback it replaces. Inputs are random (never all zeros); views (permute, narrow, expand)
/// are taken inside `run`, so every backend sees the same strided layout.
public struct OpCase: Sendable {
    /// The op's name as `test-backend --op` matches it, e.g. "layerNorm".
    public let op: String
    /// What distinguishes this case: shape, layout, options.
    public let variant: String
    /// The dtype the case exercises (of its main input).
    public let dtype: DType
    /// Largest normalised mean squared error accepted: Σ(y − ref)² / Σ ref².
    public let bound: Double
    /// Host inputs from a random generator.
    public let inputs: @Sendable (inout CaseRandom) throws -> [Tensor]
    /// The call under test; inputs live on `backend`.
    public let run: @Sendable (any Backend, [Tensor]) throws -> Tensor
    /// The oracle's computation when it differs from `run` (fused op vs its composition).
    public let reference: (@Sendable (any Backend, [Tensor]) throws -> Tensor)?

    public init(op: String, variant: String, dtype: DType, bound: Double? = nil,
                inputs: @escaping @Sendable (inout CaseRandom) throws -> [Tensor],
                run: @escaping @Sendable (any Backend, [Tensor]) throws -> Tensor,
                reference: (@Sendable (any Backend, [Tensor]) throws -> Tensor)? = nil) {
        self.op = op
        self.variant = variant
        self.dtype = dtype
        self.bound = bound ?? OpCase.defaultBound(dtype)
        self.inputs = inputs
        self.run = run
        self.reference = reference
    }

    /// NMSE bounds by dtype: f32 results differ from the oracle by summation order only.
    public static func defaultBound(_ dtype: DType) -> Double {
        switch dtype {
        case .f32: 1e-9
        case .f16: 1e-6
        case .bf16: 1e-4
        case .fp8e4m3: 1e-3
        default: 0
        }
    }
}

/// A small deterministic generator (SplitMix64) for case inputs.
public struct CaseRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }

    /// A host tensor of uniform values in `range`, stored as `dtype`.
    public mutating func tensor(_ shape: [Int], _ dtype: DType = .f32, _ range: ClosedRange<Float> = -1...1) throws -> Tensor {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = uniform(range.lowerBound, range.upperBound) }
        return try Tensor.host(values, shape: shape, dtype: dtype)
    }

    /// A host tensor of integers in `range` (i8/i32/i64 data such as indices or quantized values).
    public mutating func integers(_ shape: [Int], _ dtype: DType, _ range: ClosedRange<Int>) throws -> Tensor {
        let n = shape.reduce(1, *), span = UInt64(range.upperBound - range.lowerBound + 1)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = Float(range.lowerBound + Int(next() % span)) }
        return try Tensor.host(values, shape: shape, dtype: dtype)
    }
}
