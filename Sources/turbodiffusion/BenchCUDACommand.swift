import ArgumentParser
import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// `turbodiffusion bench cuda`: throughput of the CUDA backend's kernels against the device's
/// ceilings (a device-to-device copy for bandwidth, the best bf16 GEMM for arithmetic).
/// `scripts/bench/cuda_reference.py` times the same ops with PyTorch for the ratio column.
struct BenchCUDA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cuda",
        abstract: "Time CUDA GEMM and elementwise kernels (median of repeated runs after warm-up).",
        discussion: "Copy bandwidth counts bytes read plus bytes written. Inputs are random, never zeros."
    )

    @Option(help: "CUDA device index.")
    var device = 0

    @Option(name: .customLong("repeat"), help: "Timed runs per op; the median is reported.")
    var repetitions = 10

    @Option(help: "Square GEMM size.")
    var gemm = 8192

    @Option(help: "Elements of the elementwise tensors.")
    var elements = 1 << 26

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    func validate() throws {
        guard repetitions > 0, gemm > 0, elements >= 4096, elements % 4096 == 0 else {
            throw ValidationError("--repeat and --gemm must be positive; --elements a positive multiple of 4096")
        }
    }

    func run() throws {
        let gpu: CUDABackend
        do { gpu = try CUDABackend(deviceIndex: device) } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
        var rows: [(op: String, ms: Double, rate: Double, unit: String)] = []
        func time(_ body: () throws -> Void) throws -> Double {
            for _ in 0..<3 { try body() }
            try gpu.synchronize()
            var samples: [Double] = []
            for _ in 0..<repetitions {
                let start = ContinuousClock.now
                try body()
                try gpu.synchronize()
                let d = ContinuousClock.now - start
                samples.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
            }
            return samples.sorted()[samples.count / 2]
        }
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int, _ dtype: DType) throws -> Tensor {
            try gpu.upload(Tensor.host((0..<n).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [n / 4096, 4096], dtype: dtype))
        }

        let n = gemm
        let a = try random(n * n, .bf16).reshaped([n, n]), b = try random(n * n, .bf16).reshaped([n, n])
        let flops = 2 * Double(n) * Double(n) * Double(n)
        let tg = try time { _ = try gpu.matmul(a, b, transposeB: true, bias: nil, outputType: .bf16) }
        rows.append(("matmul bf16 \(n)³ Bᵀ → bf16", tg * 1e3, flops / tg / 1e12, "TFLOP/s"))

        // One row short of its buffer: `contiguous` returns a whole-buffer dense tensor as is, so the
        // copy below would time nothing.
        let x = try random(elements + 4096, .f32).narrowed(dim: 0, start: 0, length: elements / 4096), row = try gpu.upload(Tensor.host((0..<4096).map { Float($0 % 7) + 0.5 }, shape: [4096]))
        let bytes = Double(elements * 4)
        let tcopy = try time { _ = try gpu.contiguous(x) }
        rows.append(("copy f32 (ceiling)", tcopy * 1e3, 2 * bytes / tcopy / 1e9, "GB/s"))
        let tadd = try time { _ = try gpu.binary(.add, x, row) }
        rows.append(("add f32 + broadcast row", tadd * 1e3, 2 * bytes / tadd / 1e9, "GB/s"))
        let tsilu = try time { _ = try gpu.unary(.silu, x) }
        rows.append(("silu f32", tsilu * 1e3, 2 * bytes / tsilu / 1e9, "GB/s"))
        let tcvt = try time { _ = try gpu.contiguous(x, dtype: .bf16) }
        rows.append(("convert f32 → bf16", tcvt * 1e3, 1.5 * bytes / tcvt / 1e9, "GB/s"))
        let tsm = try time { _ = try gpu.softmax(x) }
        rows.append(("softmax f32 rows of 4096", tsm * 1e3, 2 * bytes / tsm / 1e9, "GB/s"))

        if json {
            for r in rows { print("{\"op\": \"\(r.op)\", \"ms\": \(r.ms), \"rate\": \(r.rate), \"unit\": \"\(r.unit)\"}") }
        } else {
            print("device: \(gpu.name)")
            print("op".padded(to: 30) + "      ms        rate")
            for r in rows {
                print(r.op.padded(to: 30)
                      + String(printf: "%8.3f  %8.1f %@", r.ms, r.rate, r.unit))
            }
        }
    }
}
