import BackendCPU
import BackendCUDA
import Foundation
import TensorCore

/// Shared state and helpers of the CUDA tests. Suites that need a GPU are enabled only when
/// `available`; those that only compile kernels need NVRTC alone (`nvrtcAvailable`).
enum CUDATestSupport {
    /// A backend whose new buffers are filled with 0xFF bytes (NaN in f32, bf16 and f16), so an
    /// element a kernel fails to write shows up as NaN in the comparison.
    static let backend: CUDABackend? = try? CUDABackend(deviceIndex: 0, fillNewBuffersWith: 0xFF)
    static var available: Bool { backend != nil }
    static let cpu = CPUBackend()

    static var gpu: CUDABackend {
        get throws {
            guard let backend else { throw TensorError.deviceError(CUDABackend.unavailableReason ?? "no CUDA backend") }
            return backend
        }
    }

    static let nvrtcAvailable: Bool = (try? KernelCompiler(architecture: "sm_90", cacheDirectory: nil)) != nil

    /// A fresh empty folder under the system temporary directory.
    static func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "td-\(label)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Deterministic inputs from a fixed seed (the engine's Philox generator).
struct SeededRandom {
    var generator: PhiloxGenerator
    init(seed: UInt64) { generator = PhiloxGenerator(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }

    /// `count` values in [lo, hi); never all zero.
    mutating func values(_ count: Int, _ lo: Float = -2, _ hi: Float = 2) -> [Float] {
        (0..<count).map { _ in uniform(lo, hi) }
    }

    /// Values of both signs bounded away from zero (divisors).
    mutating func nonZero(_ count: Int) -> [Float] {
        (0..<count).map { _ in (next() & 1 == 0 ? 1 : -1) * uniform(0.5, 2) }
    }
}

/// Inputs placed on both backends: the same host tensor for the CPU and its upload for CUDA.
struct Pair {
    var cpu: Tensor
    var gpu: Tensor

    init(cpu: Tensor, gpu: Tensor) {
        self.cpu = cpu
        self.gpu = gpu
    }

    init(_ values: [Float], _ shape: [Int], _ dtype: DType) throws {
        cpu = try Tensor.host(values, shape: shape, dtype: dtype)
        gpu = try CUDATestSupport.gpu.upload(cpu)
    }

    /// The same view applied to both.
    func map(_ view: (Tensor) throws -> Tensor) rethrows -> Pair {
        Pair(cpu: try view(cpu), gpu: try view(gpu))
    }
}

/// Comparison of a CUDA result with the CPU oracle.
struct Parity: CustomStringConvertible {
    var relativeL2: Double
    var maxAbs: Double
    var unwritten: Int   // NaN or inf in the CUDA result where the oracle is finite
    var shapeMatches: Bool

    var description: String {
        "relL2 \(String(format: "%.3g", relativeL2)) maxAbs \(String(format: "%.3g", maxAbs)) nonfinite \(unwritten)"
    }

    func within(_ bound: Double) -> Bool { shapeMatches && unwritten == 0 && relativeL2 <= bound }

    static func measure(_ gpu: Tensor, _ cpu: Tensor, label: String) throws -> Parity {
        let host = try CUDATestSupport.gpu.toHost(gpu)
        let g = try host.floats(), c = try cpu.floats()
        var num = 0.0, den = 0.0, maxAbs = 0.0, bad = 0
        for (x, y) in zip(g, c) {
            if !x.isFinite && y.isFinite { bad += 1; continue }
            let d = Double(x) - Double(y)
            num += d * d
            den += Double(y) * Double(y)
            maxAbs = max(maxAbs, abs(d))
        }
        let rel = den > 0 ? (num / den).squareRoot() : num.squareRoot()
        let p = Parity(relativeL2: rel, maxAbs: maxAbs, unwritten: bad,
                       shapeMatches: host.shape == cpu.shape && host.dtype == cpu.dtype && g.count == c.count)
        print("PARITY \(label): \(p)")
        return p
    }
}

/// Error bound per dtype for elementwise ops: fp32 math on both sides, so f32 differs only by
/// the last bits of libm functions and narrow types by an occasional rounding flip.
func elementwiseBound(_ dtype: DType) -> Double { dtype == .f32 ? 1e-5 : 1e-2 }

/// Raw bytes of a host tensor's contiguous copy (exact comparisons).
func rawBytes(_ t: Tensor) throws -> [UInt8] {
    let host = try CUDATestSupport.cpu.contiguous(try CUDATestSupport.gpu.toHost(t))
    return try host.withUnsafeBytes { Array($0) }
}
