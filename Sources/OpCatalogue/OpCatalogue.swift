import BackendCPU
import TensorCore

/// Every op case, in the manner of ggml's test-backend-ops: `turbodiffusion test-backend` runs
/// them on a device against the CPU oracle, the Swift tests run them on the CPU. A new op adds
/// its cases in `Cases/<Op>Cases.swift` and lists them here.
public enum OpCatalogue {
    public static var all: [OpCase] {
        ElementwiseCases.all + DenseElementwiseCases.all + AttentionCases.all + LayoutNormCases.all + SparseAttentionCases.all
            + QuantizedMatmulCases.all + ConvolutionCases.all + ModulationCases.all + RMSNormRotaryCases.all
            + PositionBiasCases.all + HeadLayoutCases.all + MatmulGELUCases.all
    }

    /// Cases whose op matches `op` (case-insensitive, nil for all) and whose dtype is in `dtypes` (empty for all).
    public static func cases(op: String? = nil, dtypes: Set<DType> = []) -> [OpCase] {
        all.filter { c in
            (op.map { c.op.lowercased() == $0.lowercased() } ?? true) && (dtypes.isEmpty || dtypes.contains(c.dtype))
        }
    }

    /// The op names in catalogue order.
    public static var opNames: [String] {
        var seen = Set<String>(), names: [String] = []
        for c in all where seen.insert(c.op).inserted { names.append(c.op) }
        return names
    }
}

/// How one case went.
public struct OpCaseResult: Sendable {
    public enum Status: Sendable, Equatable {
        case passed
        /// Error above the bound, a NaN/Inf, a shape or dtype that differs from the reference.
        case failed(String)
        /// The backend throws `TensorError.unsupported` for this case.
        case unsupported(String)
        /// The reference itself could not run the case (a catalogue bug).
        case referenceError(String)
    }

    public let testCase: OpCase
    public let status: Status
    /// Normalised mean squared error against the reference (nil when not computed).
    public let nmse: Double?

    public var isFailure: Bool {
        switch status {
        case .failed, .referenceError: true
        case .passed, .unsupported: false
        }
    }
}

/// Backends that place guard bytes after their buffers and can tell whether an op wrote over them.
public protocol OutputGuardChecking {
    func guardIntact(_ t: Tensor) throws -> Bool
}

/// Runs catalogue cases on a backend against the CPU oracle.
public struct OpCaseRunner {
    public let backend: any Backend
    public let oracle: CPUBackend
    /// Seed of every case's inputs (the same case gets the same inputs on every backend).
    public let seed: UInt64
    /// The oracle computes on f32 copies of the float inputs and only values are compared (dtypes
    /// may differ): how the CPU backend checks its own bf16/f16 paths.
    public let widenReference: Bool

    public init(backend: any Backend, oracle: CPUBackend = CPUBackend(), seed: UInt64 = 1, widenReference: Bool = false) {
        self.backend = backend
        self.oracle = oracle
        self.seed = seed
        self.widenReference = widenReference
    }

    /// Whether the case tells this runner anything: on the oracle's own backend an f32 case that
    /// is its own reference would compare a computation with itself.
    public func isInformative(_ c: OpCase) -> Bool {
        !(backend is CPUBackend && c.reference == nil && (c.dtype == .f32 || !widenReference))
    }

    public func run(_ c: OpCase) -> OpCaseResult {
        let expected: Tensor
        var rng = CaseRandom(seed: seed ^ UInt64(truncatingIfNeeded: (c.op + "/" + c.variant + "/" + c.dtype.rawValue).hashValueStable))
        let hostInputs: [Tensor]
        do {
            hostInputs = try c.inputs(&rng)
            let referenceInputs = widenReference
                ? try hostInputs.map { $0.dtype == .bf16 || $0.dtype == .f16 ? try oracle.contiguous($0, dtype: .f32) : $0 }
                : hostInputs
            expected = try (c.reference ?? c.run)(oracle, referenceInputs)
        } catch {
            return OpCaseResult(testCase: c, status: .referenceError("\(error)"), nmse: nil)
        }
        do {
            let inputs = try hostInputs.map { try backend.upload($0) }
            let y = try c.run(backend, inputs)
            let got = try backend.toHost(y)
            if let guarded = backend as? any OutputGuardChecking, try !guarded.guardIntact(y) {
                return OpCaseResult(testCase: c, status: .failed("wrote past the end of its output (guard bytes changed)"), nmse: nil)
            }
            guard got.shape == expected.shape else {
                return OpCaseResult(testCase: c, status: .failed("shape \(got.shape), expected \(expected.shape)"), nmse: nil)
            }
            guard got.dtype == expected.dtype || widenReference else {
                return OpCaseResult(testCase: c, status: .failed("dtype \(got.dtype), expected \(expected.dtype)"), nmse: nil)
            }
            let error = try Self.nmse(got, expected)
            guard error.isFinite else {
                return OpCaseResult(testCase: c, status: .failed("non-finite output (an element not written, or NaN/Inf)"), nmse: error)
            }
            return OpCaseResult(testCase: c, status: error <= c.bound ? .passed : .failed("NMSE above the bound"), nmse: error)
        } catch TensorError.unsupported(let message) {
            return OpCaseResult(testCase: c, status: .unsupported(message), nmse: nil)
        } catch {
            return OpCaseResult(testCase: c, status: .failed("\(error)"), nmse: nil)
        }
    }

    /// Σ(y − ref)² / Σ ref² in double; NaN when y holds a non-finite value where ref does not.
    public static func nmse(_ y: Tensor, _ ref: Tensor) throws -> Double {
        let a = try y.floats(), b = try ref.floats()
        var num = 0.0, den = 0.0
        for i in 0..<b.count {
            let (u, v) = (Double(a[i]), Double(b[i]))
            if !u.isFinite || !v.isFinite {
                if u == v || (u.isNaN && v.isNaN) { continue }
                return .nan
            }
            num += (u - v) * (u - v)
            den += v * v
        }
        return den == 0 ? (num == 0 ? 0 : .infinity) : num / den
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across processes (Swift's hashValue is seeded per run).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }
}
