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
import Pipeline
import TensorCore

/// `turbodiffusion bench sequence-parallel`: per-step DiT time on 1, 2, 4, 8 GPUs with seeded random
/// weights, the scaling against one GPU, and each run's distance to the one-GPU output
/// (docs/multi-gpu.md). With --device cpu the ranks are CPU threads exchanging through host memory
/// (the same code path with the test communicator; a functional check, not a benchmark).
struct BenchSequenceParallel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequence-parallel",
        abstract: "Time DiT steps with sequence parallelism on 1…N GPUs (seeded random weights) and report the scaling.",
        discussion: """
            Every rank holds the whole model (bf16, TurboDiffusion layout). One warm-up step, then --repeats \
            timed steps per GPU count; each count's output is compared with the first count's (relative L2).
            """)

    enum Defaults: DiTBenchDefaults {
        static let preset = BenchDiTMemory.Preset.wan21_14b
        static let size = "1280x720"
        static let attentionType = "sagesla"
        static let framesHelp = "Video frames (4n+1)."
    }

    @OptionGroup var dit: DiTBenchOptions<Defaults>

    @Option(help: "Blocks to run (default: the preset's; fewer for a quick check).")
    var layers: Int?

    @Option(help: "GPU counts to time, comma separated (each must divide the heads).")
    var gpus = "1,2,4,8"

    @Option(help: "cuda (NCCL between GPUs) or cpu (ranks as threads).")
    var device: DeviceChoice = .cuda

    @Option(help: "Timed steps per GPU count after one warm-up.")
    var repeats = 3

    var counts: [Int] { gpus.split(separator: ",").compactMap { Int(String($0.filter { !$0.isWhitespace })) } }

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard !counts.isEmpty, counts.count == gpus.split(separator: ",").count, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--gpus must list GPU counts like 1,2,4,8, got '\(gpus)'")
        }
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1") }
        guard device != .auto else { throw ValidationError("--device must be cuda or cpu") }
        let config = dit.config(layers: layers)
        for n in counts {
            do { try SequenceParallelism.validate(heads: config.numHeads, ranks: n) } catch { throw ValidationError("--gpus \(n): \(error)") }
        }
    }

    func run() throws {
        let config = dit.config(layers: layers), attention = dit.attention
        let (t, h, w, tokens) = dit.latent
        let weights = try WanDiTRandomWeights.stateDict(config, layout: .turbo, seed: dit.seed)
        let (x, context) = try dit.inputs(config)
        logLine("\(config), \(tokens) tokens (\(t)×\(h)×\(w) latent), self-attention \(attention), \(dit.dtype.rawValue)\(dit.quantLinear ? ", W8A8" : "")")
        let available = device == .cuda ? try CUDABackend.deviceCount() : Int.max
        var baseline: (seconds: Double, output: [Float])?
        for n in counts {
            guard n <= available else {
                logLine("\(n) GPUs: skipped, this machine has \(available)")
                continue
            }
            let model = try parallelModel(ranks: n, weights: weights, config: config)
            let (xd, cd) = (try model.backend.upload(x), try model.backend.upload(context))
            var out = try model.velocity(x: xd, timestep: 988, context: cd)
            var times: [Double] = []
            for _ in 0..<repeats {
                let start = Date()
                out = try model.velocity(x: xd, timestep: 988, context: cd)
                times.append(Date().timeIntervalSince(start))
            }
            times.sort()
            let median = times[times.count / 2]
            let values = try model.backend.toHost(out).floats()
            guard values.allSatisfy(\.isFinite) else { throw ValidationError("\(n) GPUs: the forward produced non-finite values") }
            let unit = device == .cpu ? "CPU rank" : "GPU"
            var line = String(printf: "%d %@%@: %.3f s per step (median of %d, min %.3f)", n, unit, n == 1 ? "" : "s", median, repeats, times[0])
            if let b = baseline {
                line += String(printf: "; speedup %.2f×, efficiency %.0f%%; relative L2 vs %d: %.3e", b.seconds / median,
                               100 * b.seconds / median / Double(n) * Double(counts[0]), counts[0], relativeL2(values, b.output))
            } else {
                baseline = (median, values)
            }
            print(line)
        }
    }

    /// `ranks` copies of the model, one per device (GPU r, or a CPU backend per thread), joined by
    /// NCCL or by `InProcessGroup`.
    func parallelModel(ranks n: Int, weights: [NamedTensor], config: WanDiTConfig) throws -> SequenceParallelVelocityModel {
        let backends: [any Backend]
        let communicators: [any Communicator]
        let abort: @Sendable (String) -> Void
        if device == .cpu {
            let group = try InProcessGroup(size: n)
            backends = (0..<n).map { _ in CPUBackend() }
            communicators = try backends.enumerated().map { try group.communicator(rank: $0, backend: $1) }
            abort = { group.abort($0) }
        } else {
            let cuda = try (0..<n).map { try CUDABackend(deviceIndex: $0) }
            let nccl = try NCCLCommunicator.group(cuda)
            (backends, communicators) = (cuda, nccl)
            abort = { _ in nccl.forEach { $0.abort() } }
        }
        let ranks = try zip(backends, communicators).map { b, comm in
            SequenceParallelVelocityModel.Rank(model: try dit.loadDiT(weights, config: config, on: b),
                                               context: ComputeContext(backend: b, dtype: dit.dtype.dtype),
                                               parallelism: SequenceParallelism(comm))
        }
        return try SequenceParallelVelocityModel(ranks: ranks, abort: abort)
    }
}
