import BackendCUDA
import Foundation
import Testing
import TensorCore

/// Rough throughput of the CUDA ops, only when TD_CUDA_BENCH=1 (device runs): the median of
/// timed repetitions after warm-up, on random data, with the stream synchronised around each.
/// Uses a backend without output poisoning, so no fill pass is timed; each op's time includes
/// its output allocation (from the cache) and launch.
@Suite(.enabled(if: CUDATestSupport.available && ProcessInfo.processInfo.environment["TD_CUDA_BENCH"] == "1"), .serialized)
struct CUDABenchmarkTests {
    static let backend = try? CUDABackend(deviceIndex: 0)

    var gpu: CUDABackend {
        get throws {
            guard let b = Self.backend else { throw TensorError.deviceError("no CUDA backend") }
            return b
        }
    }

    func median(_ backend: CUDABackend, repetitions: Int = 10, _ body: () throws -> Void) throws -> Double {
        for _ in 0..<3 { try body() }
        try backend.synchronize()
        var times: [Double] = []
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            try body()
            try backend.synchronize()
            let d = ContinuousClock.now - start
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        return times.sorted()[times.count / 2]
    }

    @Test func gemmBF16() throws {
        let gpu = try self.gpu
        let n = 8192
        var rng = SeededRandom(seed: 1)
        let a = try gpu.upload(try Tensor.host(rng.values(n * n, -1, 1), shape: [n, n], dtype: .bf16))
        let b = try gpu.upload(try Tensor.host(rng.values(n * n, -1, 1), shape: [n, n], dtype: .bf16))
        let t = try median(gpu) { _ = try gpu.matmul(a, b, transposeB: true, bias: nil, outputType: .bf16) }
        let flops = 2.0 * Double(n) * Double(n) * Double(n)
        print("BENCH matmul bf16 \(n)³ (Bᵀ, bf16 out): \(String(format: "%.3f", t * 1e3)) ms, \(String(format: "%.0f", flops / t / 1e12)) TFLOP/s")
        let t32 = try median(gpu, repetitions: 5) { _ = try gpu.matmul(a, b, transposeB: true, bias: nil, outputType: .f32) }
        print("BENCH matmul bf16 \(n)³ (Bᵀ, f32 out): \(String(format: "%.0f", flops / t32 / 1e12)) TFLOP/s")
    }

    @Test func elementwiseBandwidth() throws {
        let gpu = try self.gpu
        let count = 1 << 26
        var rng = SeededRandom(seed: 2)
        let x = try gpu.upload(try Tensor.host(rng.values(count), shape: [count / 4096, 4096], dtype: .f32))
        let y = try gpu.upload(try Tensor.host(rng.values(4096), shape: [4096], dtype: .f32))
        let tb = try median(gpu) { _ = try gpu.binary(.add, x, y) }
        print("BENCH binary add f32 \(count) (+ broadcast row): \(String(format: "%.0f", Double(count * 8) / tb / 1e9)) GB/s")
        let tu = try median(gpu) { _ = try gpu.unary(.silu, x) }
        print("BENCH unary silu f32 \(count): \(String(format: "%.0f", Double(count * 8) / tu / 1e9)) GB/s")
        let tc = try median(gpu) { _ = try gpu.contiguous(x, dtype: .bf16) }
        print("BENCH convert f32→bf16 \(count): \(String(format: "%.0f", Double(count * 6) / tc / 1e9)) GB/s")
        let tt = try median(gpu) { _ = try gpu.contiguous(try x.transposed(0, 1)) }
        print("BENCH transpose f32 \(count): \(String(format: "%.0f", Double(count * 8) / tt / 1e9)) GB/s")
        let ts = try median(gpu) { _ = try gpu.softmax(x) }
        print("BENCH softmax f32 [\(count / 4096), 4096]: \(String(format: "%.0f", Double(count * 8) / ts / 1e9)) GB/s (one read + one write counted)")
    }
}
