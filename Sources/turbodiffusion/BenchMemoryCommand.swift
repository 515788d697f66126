import ArgumentParser
import BackendCPU
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

/// `turbodiffusion bench dit-memory`: synthesises a full-size random DiT checkpoint, loads it and
/// runs one tiny forward, reporting time and resident memory per stage. It shows that weights are
/// used from the mapping (file pages the kernel may drop) rather than copied into process memory.
struct BenchDiTMemory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dit-memory",
        abstract: "Peak memory of loading (and touching every weight of) a full-size DiT from a synthetic checkpoint.",
        discussion: """
            Writes a random bf16 safetensors file of the chosen architecture (28 GB for the 14B \
            models) into --dir, loads it on the CPU, runs one forward over a single token (every \
            weight is read once) and deletes the file unless --keep is given. Figures: anonymous \
            memory (what the process owns) and resident memory (including mapped file pages, which \
            the kernel reclaims under pressure), sampled every 20 ms.
            """
    )

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case wan21_1_3b = "wan2.1-1.3b", wan21_14b = "wan2.1-14b", wan22_i2v_a14b = "wan2.2-i2v-a14b"
        var config: WanDiTConfig {
            switch self {
            case .wan21_1_3b: .wan21T2V1_3B
            case .wan21_14b: .wan21T2V14B
            case .wan22_i2v_a14b: .wan22I2VA14B
            }
        }
    }

    @Option(help: "Architecture: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: Preset = .wan21_14b

    @Option(help: "Folder for the synthetic checkpoint (needs the file's size free).")
    var dir: String = FileManager.default.temporaryDirectory.path

    @Option(help: "Compute type of the forward: f32 or bf16.")
    var dtype: ComputeType = .bf16

    @Flag(help: "Keep the synthetic file (reused by a later run with --keep).")
    var keep = false

    @Flag(name: [.customLong("skip_forward"), .customLong("skip-forward")], help: "Only load; do not run the forward.")
    var skipForward = false

    func run() throws {
        let config = preset.config
        let specs = config.checkpointTensors(.official).map { (name: $0.key, dtype: DType.bf16, shape: $0.shape) }
        let bytes = specs.reduce(0) { $0 + $1.shape.reduce(1, *) * 2 }
        let largest = specs.map { $0.shape.reduce(1, *) * 2 }.max() ?? 0
        let path = URL(fileURLWithPath: dir).appendingPathComponent("synthetic-\(preset.rawValue)-bf16.safetensors").path
        logLine("\(config); \(String(printf: "%.2f", Double(config.parameterCount) / 1e9))B parameters, \(gib(bytes)) bf16, largest tensor \(mib(largest))")

        if !(keep && FileManager.default.fileExists(atPath: path)) {
            try synthesize(specs, bytes: bytes, to: path)
        }
        defer { if !keep { try? FileManager.default.removeItem(atPath: path) } }

        let sampler = MemorySampler()
        let baseline = MemoryUsage.now()
        var start = Date()
        let backend = CPUBackend()
        let checkpoint = try Checkpoint.open(path: path)
        let store = WeightStore(checkpoint, backend: backend, matrixType: dtype.dtype)
        var c = config
        c.textLength = 512
        let model = try WanDiT(store, config: c)
        var peaks = sampler.takePeaks()
        logLine(String(printf: "load: %.2f s; peak anonymous %@ (%@ above the %@ before loading), peak resident %@",
                       Date().timeIntervalSince(start), gib(peaks.anonymous), mib(peaks.anonymous - baseline.anonymous),
                       mib(baseline.anonymous), gib(peaks.resident)))
        if !skipForward {
            start = Date()
            let x = try Tensor.host((0..<(config.inChannels * 4)).map { Float(($0 * 37) % 17) / 17 - 0.5 }, shape: [config.inChannels, 1, 2, 2])
            let context = try Tensor.host((0..<(16 * config.textDim)).map { Float(($0 * 13) % 29) / 29 - 0.5 }, shape: [16, config.textDim])
            let out = try model(x: x, timestep: 500, context: context, ComputeContext(backend: backend, dtype: dtype.dtype))
            let values = try out.floats()
            peaks = sampler.takePeaks()
            logLine(String(printf: "forward over 1 token (%@): %.2f s; peak anonymous %@, peak resident %@; output finite: %@",
                           dtype.rawValue, Date().timeIntervalSince(start), gib(peaks.anonymous), gib(peaks.resident),
                           values.allSatisfy(\.isFinite) ? "yes" : "NO"))
        }
        sampler.stop()
        let end = MemoryUsage.now()
        logLine("process peak resident (VmHWM) \(gib(end.peakResident)); the checkpoint is \(gib(bytes)), its largest tensor \(mib(largest))")
    }

    /// Random bf16 values ~ ±0.03 from a 4 MiB pattern, offset per tensor (contents are irrelevant
    /// to memory, but must be finite numbers).
    func synthesize(_ specs: [(name: String, dtype: DType, shape: [Int])], bytes: Int, to path: String) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let pattern = (0..<(2 << 20)).map { _ -> UInt16 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u = Float(state >> 40) / Float(1 << 24) - 0.5          // [-0.5, 0.5)
            return BF16.bits(u * 0.06)
        }
        let start = Date()
        var written = 0, reported = 0
        try pattern.withUnsafeBytes { src in
            try SafetensorsWriter.write(streaming: specs, to: path) { index, chunk, at in
                let shift = ((index &* 7919) &+ at) % src.count & ~1
                var done = 0
                while done < chunk.count {
                    let n = min(chunk.count - done, src.count - (shift + done) % src.count)
                    chunk.baseAddress!.advanced(by: done).copyMemory(from: src.baseAddress! + (shift + done) % src.count, byteCount: n)
                    done += n
                }
                written += chunk.count
                if written - reported >= 4 << 30 {
                    reported = written
                    logLine(String(printf: "writing %@: %.0f%%", path, 100 * Double(written) / Double(bytes)))
                }
            }
        }
        logLine(String(printf: "wrote %@ (%@) in %.1f s", path, gib(bytes), Date().timeIntervalSince(start)))
    }
}
