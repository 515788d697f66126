import ArgumentParser
import BackendCPU
import BackendCUDA
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import TensorCore

/// `turbodiffusion bench dit`: one full-size DiT forward with seeded random weights, timed, with its
/// FLOPs and peak device memory; optionally the same forward on the CPU for a parity figure.
struct BenchDiT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dit",
        abstract: "Time a full-size DiT forward (seeded random weights made in memory) and optionally compare it with the CPU.",
        discussion: """
            Weights follow WanDiTRandomWeights (bf16, the TurboDiffusion layout so SLA has its proj_l); \
            inputs are seeded: x [C, T, H/8, W/8] for --frames and --size, 32 text rows, timestep 988. \
            With --compare-cpu the CPU runs the same forward on the same weights and inputs and the \
            relative L2 distance is printed (the CPU needs minutes for long clips: use a few frames).
            """)

    enum Defaults: DiTBenchDefaults {
        static let preset = BenchDiTMemory.Preset.wan21_1_3b
        static let size = "832x480"
        static let attentionType = "original"
        static let framesHelp = "Video frames (4n+1); latent frames = (frames − 1)/4 + 1."
    }

    @OptionGroup var dit: DiTBenchOptions<Defaults>

    @Option(help: "auto, cuda or cpu.")
    var device: DeviceChoice = .auto

    @OptionGroup var cudaKernels: CUDAKernelOption

    @Option(help: "Timed forwards after one warm-up.")
    var repeats = 3

    @Flag(help: "After the timed forwards, run one more op by op (waiting for each) and print where the time goes.")
    var profile = false

    @Flag(name: .customLong("compare-cpu"), help: "Also run the forward on the CPU and print the relative L2 distance.")
    var compareCPU = false

    @Flag(help: "Keep the block weights in host memory and upload each block just before it runs (the memory plan's streamed DiT).")
    var stream = false

    @Option(name: [.customLong("max_vram"), .customLong("max-vram")],
            help: "Most GPU memory (GiB) the run may hold; beyond it allocations fail as out-of-memory would.")
    var maxVram: Double?

    @Flag(name: .customLong("compare-resident"), help: "With --stream: also run the resident forward on the same device and compare bit for bit.")
    var compareResident = false

    @Flag(name: .customLong("compare-kernels"),
          help: "CUDA: also time the forward with the other kernel set (--cuda-kernels standard ↔ candidate) on a second backend, and print both medians, their ratio and the outputs' relative L2 distance.")
    var compareKernels = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        if let maxVram, !(maxVram > 0) { throw ValidationError("--max_vram must be a positive number of GiB, got \(maxVram)") }
        if compareKernels && device == .cpu { throw ValidationError("--compare-kernels compares CUDA kernel sets: it needs --device cuda or auto") }
        if compareKernels && profile { throw ValidationError("--compare-kernels times unprofiled forwards: drop --profile") }
    }

    func run() throws {
        let config = dit.config(), attention = dit.attention
        let (t, h, w, tokens) = dit.latent
        var start = Date()
        let weights = try WanDiTRandomWeights.stateDict(config, layout: .turbo, seed: dit.seed)
        logLine(String(printf: "\(config): %.2fB parameters made in %.1f s; %d tokens (%d×%d×%d latent), self-attention \(attention)",
                       Double(config.parameterCount) / 1e9, Date().timeIntervalSince(start), tokens, t, h, w))
        let (x, context) = try dit.inputs(config)

        let device = try openDevice(self.device, kernels: cudaKernels.kernels)
        let backend: any Backend = profile ? ProfilingBackend(device) : device
        let (out, seconds) = try forward(on: backend, weights: weights, config: config, x: x, context: context,
                                         repeats: repeats, residency: stream ? .streamed : .resident)
        let flops = config.forwardFLOPs(tokens: tokens, attention: attention).total
        logLine(String(printf: "forward on %@ (%@): median %.3f s over %d (min %.3f); %.1f TFLOP → %.0f TFLOP/s",
                       backend.name, dit.dtype.rawValue, seconds.median, repeats, seconds.min, flops / 1e12, flops / seconds.median / 1e12))
        if let cuda = device as? CUDABackend {
            let m = cuda.memoryStatistics
            logLine(String(printf: "device memory: peak live %.2f GiB, cached %.2f GiB", Double(m.peak) / 1073741824, Double(m.cached) / 1073741824))
        }
        let values = try backend.toHost(out).floats()
        guard values.allSatisfy(\.isFinite) else { throw ValidationError("the forward produced non-finite values") }
        if stream && compareResident {
            let (resident, _) = try forward(on: backend, weights: weights, config: config, x: x, context: context,
                                            repeats: 0, residency: .resident)
            let reference = try backend.toHost(resident).floats()
            let differing = zip(values, reference).filter { $0.bitPattern != $1.bitPattern }.count
            let worst = zip(values, reference).map { abs($0 - $1) }.max() ?? 0
            logLine("streamed vs resident on \(backend.name): \(differing) of \(values.count) values differ, max |diff| \(worst)")
            print(differing == 0 ? "streamed equals resident bit for bit" : "streamed differs from resident in \(differing) values")
            if differing != 0 { throw ExitCode(1) }
        }
        if compareKernels && !(device is CUDABackend) { logLine("note: --compare-kernels skipped: the forward ran on \(device.name)") }
        if compareKernels, let cuda = device as? CUDABackend {
            try compareKernelSets(first: cuda, firstSeconds: seconds.median, firstValues: values, weights: weights, config: config,
                                  x: x, context: context)
        }
        if compareCPU {
            start = Date()
            let (cpuOut, _) = try forward(on: CPUBackend(), weights: weights, config: config, x: x, context: context,
                                          repeats: 0)
            let err = relativeL2(values, try cpuOut.floats())
            logLine(String(printf: "CPU forward %.1f s; relative L2 %@ vs CPU: %.3e", Date().timeIntervalSince(start), backend.name, err))
            print(String(printf: "relative L2 vs CPU %.3e", err))
        }
    }

    /// The backend of `choice` with `kernels`, held to --max_vram when that is given and it is a GPU.
    func openDevice(_ choice: DeviceChoice, kernels: CUDAKernelSet) throws -> any Backend {
        let backend = try choice.makeBackend(kernels: kernels)
        if let maxVram, let cuda = backend as? CUDABackend { cuda.setMemoryLimit(Int(maxVram * 1_073_741_824)) }
        return backend
    }

    /// The forward again on a second CUDA backend with the other kernel set, after the first one's cached memory
    /// is returned; prints "kernels standard X s, candidate Y s: candidate/standard R×, relative L2 E".
    func compareKernelSets(first: CUDABackend, firstSeconds: Double, firstValues: [Float], weights: [NamedTensor],
                           config: WanDiTConfig, x: Tensor, context: Tensor) throws {
        let other: CUDAKernelSet = first.kernelSet == .standard ? .candidate : .standard
        try first.emptyCache()
        let second = try openDevice(.cuda, kernels: other)
        let (out, seconds) = try forward(on: second, weights: weights, config: config, x: x, context: context, repeats: repeats,
                                         residency: stream ? .streamed : .resident)
        let values = try second.toHost(out).floats()
        let err = relativeL2(values, firstValues)
        let (standard, candidate) = first.kernelSet == .standard ? (firstSeconds, seconds.median) : (seconds.median, firstSeconds)
        print(String(printf: "kernels standard %.3f s, candidate %.3f s: candidate/standard %.3f×, relative L2 %.3e",
                     standard, candidate, candidate / standard, err))
        guard values.allSatisfy(\.isFinite) else { throw ValidationError("the \(other.rawValue) kernels' forward produced non-finite values") }
    }

    /// Loads the model on `backend`, runs one warm-up and `repeats` timed forwards. -> the last output and the times.
    func forward(on backend: any Backend, weights: [NamedTensor], config: WanDiTConfig,
                 x: Tensor, context: Tensor, repeats: Int, residency: WeightResidency = .resident) throws -> (Tensor, (median: Double, min: Double)) {
        let profiler = backend as? ProfilingBackend
        profiler?.recording = false
        var start = Date()
        let model = try dit.loadDiT(weights, config: config, on: backend, residency: residency)
        let bytes = weights.reduce(0) { $0 + $1.tensor.byteCount }
        let load = Date().timeIntervalSince(start)
        logLine(String(printf: "loaded on %@ in %.2f s (%.2f GB, %.1f GB/s)%@", backend.name, load, Double(bytes) / 1e9, Double(bytes) / 1e9 / load,
                       residency == .streamed ? "; blocks stay in host memory, streamed per forward" : ""))
        let ctx = ComputeContext(backend: backend, dtype: dit.dtype.dtype)
        let (xd, cd) = (try backend.upload(x), try backend.upload(context))
        var out = try model(x: xd, timestep: 988, context: cd, ctx)
        try backend.synchronize()
        var times: [Double] = []
        for _ in 0..<repeats {
            start = Date()
            out = try model(x: xd, timestep: 988, context: cd, ctx)
            try backend.synchronize()
            times.append(Date().timeIntervalSince(start))
        }
        if let profiler {
            profiler.reset()
            profiler.recording = true
            start = Date()
            out = try model(x: xd, timestep: 988, context: cd, ctx)
            try backend.synchronize()
            let total = Date().timeIntervalSince(start)
            profiler.recording = false
            logLine(String(printf: "profiled forward (each op waited for): %.3f s\n", total) + profiler.report(total: total))
        }
        times.sort()
        return (out, (times.isEmpty ? 0 : times[times.count / 2], times.first ?? 0))
    }
}

/// Seeded uniform inputs in [-1, 1).
struct SplitMixInputs {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func values(_ n: Int) -> [Float] {
        (0..<n).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float((z ^ (z >> 31)) >> 40) * 0x1p-23 - 1
        }
    }
}
