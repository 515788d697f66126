import ArgumentParser
import BackendCPU
import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// `turbodiffusion bench conv`: conv3d throughput on the Wan VAE's layer shapes, on the CPU or
/// on CUDA with each convolution engine (implicit GEMM, cuDNN, im2col + cuBLASLt).
struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "Time conv3d on the Wan2.1 VAE's convolution shapes (CPU against the FMA peak, or CUDA per engine).",
        discussion: """
        GFLOP/CPU-s divides by the process's CPU time (all threads), which a busy machine inflates \
        much less than wall time; the core peak is the FMA peak divided by the cores. \
        Each case is one causal convolution step of the decoder: the input holds the chunk plus the \
        two cached frames (k_t = 3) and the output the chunk's frames, at the given spatial size. \
        With --device cuda each case runs on the engines --engine names (as the VAE calls it: \
        --dtype operands, f32 bias, --output-type result); with both engines the last column is the \
        relative RMS difference of the first engine's result from the second's (cuDNN vs our implicit GEMM).
        """
    )

    enum Engine: String, ExpressibleByArgument, CaseIterable { case implicit, implicitMMA = "implicit-mma", cudnn, im2col, both }

    @Option(help: "cpu, or cuda (auto is cuda here: the engines are what this compares).")
    var device: DeviceChoice = .cpu

    @Option(help: "CUDA only: cudnn, implicit, implicit-mma, im2col, or both (cudnn and implicit, compared).")
    var engine: Engine = .both

    @Option(help: "CUDA only: operand type (f32 or bf16).")
    var dtype: ComputeType = .bf16

    @Option(name: .customLong("output-type"), help: "CUDA only: result type, f32 (the VAE's) or bf16.")
    var outputType: ComputeType = .f32

    @Option(name: .customLong("repeat"), help: "Timed runs per case (after one warm-up); the median is reported.")
    var repeatCount: Int = 3

    @Option(help: "Spatial size H,W of every case (default 60,104: a 480p latent; the channel count sets the cost).")
    var size: String = "60,104"

    @Option(help: "Output frames per case.")
    var frames: Int = 1

    struct Case {
        var name: String
        var inChannels: Int, outChannels: Int
        var kernel: [Int]
        var padding: [Padding]
    }

    static let cases: [Case] = [
        Case(name: "res 96→96 3³", inChannels: 96, outChannels: 96, kernel: [3, 3, 3], padding: [.none, Padding(1, 1), Padding(1, 1)]),
        Case(name: "res 192→192 3³", inChannels: 192, outChannels: 192, kernel: [3, 3, 3], padding: [.none, Padding(1, 1), Padding(1, 1)]),
        Case(name: "res 384→384 3³", inChannels: 384, outChannels: 384, kernel: [3, 3, 3], padding: [.none, Padding(1, 1), Padding(1, 1)]),
        Case(name: "up 192→96 1×3²", inChannels: 192, outChannels: 96, kernel: [1, 3, 3], padding: [.none, Padding(1, 1), Padding(1, 1)]),
        Case(name: "time 384→768 3×1²", inChannels: 384, outChannels: 768, kernel: [3, 1, 1], padding: [.none, .none, .none]),
        Case(name: "head 96→3 3³", inChannels: 96, outChannels: 3, kernel: [3, 3, 3], padding: [.none, Padding(1, 1), Padding(1, 1)]),
        Case(name: "short 192→384 1³", inChannels: 192, outChannels: 384, kernel: [1, 1, 1], padding: [.none, .none, .none]),
    ]

    func validate() throws {
        guard repeatCount >= 1, frames >= 1 else { throw ValidationError("--repeat and --frames must be ≥ 1") }
        let p = size.split(separator: ",").compactMap { Int($0) }
        guard p.count == 2, p.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--size \(size): expected H,W") }
    }

    func run() throws {
        let hw = size.split(separator: ",").compactMap { Int($0) }
        let (h, w) = (hw[0], hw[1])
        if device != .cpu { return try runCUDA(h: h, w: w) }
        let cpu = CPUBackend()
        let peak = CPUPeak.detect(cores: Parallel.threadCount)
        print(peak.formula)
        print("spatial \(h)×\(w), \(frames) output frame(s), timed runs per case: \(repeatCount) (after 1 warm-up)\n")
        print(pad("case", 20) + " median ms    best ms   GFLOP/s  % peak   CPU ms  GFLOP/CPU-s")
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        for c in Self.cases {
            let tIn = frames + c.kernel[0] - 1
            let x = try randomTensor([1, c.inChannels, tIn, h, w], &rng)
            let weight = try randomTensor([c.outChannels, c.inChannels] + c.kernel, &rng)
            let bias = try randomTensor([c.outChannels], &rng)
            var cpuSeconds: [Double] = []
            func once() throws -> Double {
                let cpu0 = processCPUSeconds()
                let start = ContinuousClock.now
                _ = try cpu.conv3d(x, weight: weight, bias: bias, stride: [1, 1, 1], padding: c.padding)
                let d = ContinuousClock.now - start
                cpuSeconds.append(processCPUSeconds() - cpu0)
                return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            }
            _ = try once()
            cpuSeconds.removeAll()
            var times = try (0..<repeatCount).map { _ in try once() }
            times.sort()
            cpuSeconds.sort()
            let median = times[times.count / 2]
            let cpuMedian = cpuSeconds[cpuSeconds.count / 2]
            let flop = 2.0 * Double(c.outChannels * c.inChannels * c.kernel.reduce(1, *)) * Double(frames * h * w)
            let gflops = flop / median / 1e9
            print(pad(c.name, 20) + String(printf: " %9.1f %10.1f %9.1f %7.1f %8.1f %12.1f", median * 1e3, times[0] * 1e3,
                                           gflops, 100 * gflops / peak.gflops, cpuMedian * 1e3, flop / cpuMedian / 1e9))
        }
    }

    /// Median wall time of `body` over --repeat runs after one warm-up, waiting for the device each time.
    private func deviceMedian(_ gpu: CUDABackend, _ body: () throws -> Void) throws -> Double {
        try body()
        try gpu.synchronize()
        var times: [Double] = []
        for _ in 0..<repeatCount {
            let start = ContinuousClock.now
            try body()
            try gpu.synchronize()
            let d = ContinuousClock.now - start
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        return times.sorted()[times.count / 2]
    }

    private func runCUDA(h: Int, w: Int) throws {
        let engines: [ConvolutionEngine] = switch engine {
        case .implicit: [.implicit]
        case .implicitMMA: [.implicitMMA]
        case .cudnn: [.cudnn]
        case .im2col: [.im2col]
        case .both: [.cudnn, .implicit]
        }
        let backends: [CUDABackend]
        do { backends = try engines.map { try CUDABackend(convolutionEngine: $0) } } catch {
            throw ValidationError("\(error)")
        }
        print("convolutions: \(backends[0].convolutionSummary)")
        if engine == .cudnn && !backends[0].usesCudnn { print("note: without cuDNN the cudnn engine runs our kernels") }
        print("spatial \(h)×\(w), \(frames) output frame(s), \(dtype.rawValue) operands → \(outputType.rawValue), timed runs per case: \(repeatCount) (after 1 warm-up)\n")
        let names = engines.map(\.rawValue)
        print(pad("case", 20) + names.map { String(repeating: " ", count: max(0, 10 - $0.count)) + $0 + " ms  TFLOP/s" }.joined()
              + (engines.count == 2 ? "  speedup  rel diff" : ""))
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        for c in Self.cases {
            let tIn = frames + c.kernel[0] - 1
            let flop = 2.0 * Double(c.outChannels * c.inChannels * c.kernel.reduce(1, *)) * Double(frames * h * w)
            let xHost = try randomTensor([1, c.inChannels, tIn, h, w], &rng)
            let wHost = try randomTensor([c.outChannels, c.inChannels] + c.kernel, &rng)
            let bHost = try randomTensor([c.outChannels], &rng)
            var line = pad(c.name, 20), medians: [Double] = [], results: [[Float]] = []
            for gpu in backends {
                let x = try gpu.contiguous(gpu.upload(xHost), dtype: dtype.dtype)
                let weight = try gpu.contiguous(gpu.upload(wHost), dtype: dtype.dtype)
                let bias = try gpu.upload(bHost)
                var y: Tensor?
                let median = try deviceMedian(gpu) {
                    y = try gpu.conv3d(x, weight: weight, bias: bias, stride: [1, 1, 1], padding: c.padding, outputType: outputType.dtype)
                }
                medians.append(median)
                if let y, engines.count == 2 { results.append(try gpu.toHost(gpu.contiguous(y, dtype: .f32)).floats()) }
                line += String(printf: " %12.3f %8.1f", median * 1e3, flop / median / 1e12)
            }
            if results.count == 2 {
                line += String(printf: " %7.2f× %9.1e", medians[1] / medians[0], relativeL2(results[0], results[1]))
            }
            print(line)
        }
        for (name, gpu) in zip(names, backends) {
            let runs = gpu.convolutionRuns
            print("\(name) engine: \(runs.cudnn) convolutions on cuDNN, \(runs.implicit) as implicit GEMM, \(runs.im2col) on im2col")
            for why in gpu.cudnnRefusals { print("  cuDNN refused: \(why)") }
            for choice in gpu.cudnnEngineChoices { print("  cuDNN \(choice)") }
        }
    }

    /// User + system CPU time of this process (all threads).
    private func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    private func randomTensor(_ shape: [Int], _ rng: inout UInt64) throws -> Tensor {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            values[i] = Float(rng >> 40) * 0x1p-24 - 0.5
        }
        return try Tensor.host(values, shape: shape)
    }
}
