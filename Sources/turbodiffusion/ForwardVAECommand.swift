import ArgumentParser
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
#if canImport(Glibc)
import Glibc
#endif

/// Options shared by `forward vae-decode` and `forward vae-encode`.
struct VAEOptions: ParsableArguments {
    @Option(name: .long, help: "The VAE checkpoint (Wan2.1_VAE.pth or a safetensors of the same keys).")
    var weights: String?

    @Option(name: [.customLong("random-weights"), .customLong("random_weights")],
            help: "Instead of --weights: the released architecture with seeded random weights (benchmarks; see docs/vae.md).")
    var randomWeights: UInt64?

    @Option(name: [.customLong("random-width"), .customLong("random_width")],
            help: "Base width of the --random-weights model (default 96, the released VAE; smaller widths for tests).")
    var randomWidth: Int = 96

    @Option(name: .long, help: "safetensors file holding the input tensor.")
    var inputs: String

    @Option(name: .long, help: "Where to write the result (safetensors).")
    var output: String

    @Option(name: .long, help: "auto (CUDA when a GPU can be used, else the CPU), cuda or cpu.")
    var device: DeviceChoice = .auto

    @Option(name: .long, help: "Compute type: f32 (parity) or bf16 (bf16 weights and convolution operands, f32 accumulation).")
    var dtype: ComputeType = .f32

    @Option(name: .long, help: "Spatial tiling: none, auto (tile only when the estimate exceeds --memory-budget) or HxW[+O] in latent pixels (overlap O, default min(8, side/3)).")
    var tile: String = "auto"

    @Option(name: [.customLong("memory-budget"), .customLong("memory_budget")],
            help: "Bytes the pass may use for --tile auto (suffix K, M or G; default 80% of the available memory).")
    var memoryBudget: String?

    @Flag(name: [.customLong("whole-clip"), .customLong("whole_clip")],
          help: "One pass over all frames instead of the reference's chunks (same result, memory grows with the clip).")
    var wholeClip = false

    @Option(name: [.customLong("pass-elements"), .customLong("pass_elements")],
            help: "Inside a call, each layer takes its frames in groups of at most this many elements (default 16777216, about one 480p frame at the widest layers; 0 = no limit). Larger groups mean fewer, larger convolutions and more memory.")
    var passElements: Int?

    @Flag(help: "Run the pass once unprofiled, then again waiting for each op, and print the time per op kind (slower; for finding where the time goes).")
    var profile = false

    @Option(name: .customLong("conv-engine"), help: "CUDA convolution engine: cudnn (the default; our kernels where cuDNN is missing or refuses), implicit, implicit-mma or im2col.")
    var convEngine: ConvolutionEngine = .standard

    func validate() throws {
        guard (weights == nil) != (randomWeights == nil) else { throw ValidationError("give either --weights FILE or --random-weights SEED") }
        guard randomWidth >= 2, randomWidth % 2 == 0 else { throw ValidationError("--random-width must be an even number ≥ 2") }
        _ = try tileSetting()
        if let memoryBudget { _ = try Self.bytes(memoryBudget) }
        if let passElements, passElements < 0 { throw ValidationError("--pass-elements must be ≥ 0 (0: no limit)") }
    }

    enum TileSetting { case none, auto, fixed(height: Int, width: Int, overlap: Int?) }

    func tileSetting() throws -> TileSetting {
        switch tile {
        case "none": return .none
        case "auto": return .auto
        default:
            let parts = tile.split(separator: "+")
            let hw = parts[0].split(separator: "x").compactMap { Int($0) }
            let overlap = parts.count == 2 ? Int(parts[1]) : nil
            guard hw.count == 2, hw.allSatisfy({ $0 >= 1 }), parts.count <= 2, parts.count == 1 || overlap != nil else {
                throw ValidationError("--tile \(tile): expected none, auto or HxW[+O] (latent pixels, e.g. 32x32+8)")
            }
            return .fixed(height: hw[0], width: hw[1], overlap: overlap)
        }
    }

    static func bytes(_ s: String) throws -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var text = s.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var scale = 1
        if let u = text.last, let m = units[u] { scale = m; text.removeLast() }
        guard let v = Double(text), v > 0 else { throw ValidationError("--memory-budget \(s): expected a size such as 8G or 6000M") }
        return Int(v * Double(scale))
    }

    /// MemAvailable from /proc/meminfo, if readable.
    static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            if let kb = line.split(separator: " ").compactMap({ Int($0) }).first { return kb * 1024 }
        }
        return nil
    }

    var streaming: VAEStreaming {
        if wholeClip { return .wholeClip }
        guard let passElements else { return .reference }
        return VAEStreaming(chunks: .reference, passElements: passElements == 0 ? nil : passElements)
    }

    /// The device backend, wrapped with `--profile` in a `ProfilingBackend` that records nothing
    /// until the pass sets `recording` (loading is not profiled).
    func makeBackend() throws -> any Backend {
        let backend = try device.makeBackend(convolutionEngine: convEngine)
        guard profile else { return backend }
        let profiler = ProfilingBackend(backend)
        profiler.recording = false
        return profiler
    }

    /// With `--profile`: one pass run unprofiled first, so kernel compilation, cuDNN's plan timing
    /// and cuBLASLt's heuristics (first use of each shape) stay out of the table.
    func warmUpForProfile(_ pass: () throws -> Tensor) throws {
        guard profile else { return }
        logLine("profile: one unprofiled pass first (compilation, plan choice)")
        _ = try pass()
    }

    /// With `--profile`: the per-op table of the pass that took `seconds`.
    func printProfile(_ backend: any Backend, seconds: Double) {
        guard let profiler = backend as? ProfilingBackend else { return }
        logLine(String(printf: "profiled pass (each op waited for): %.3f s\n", seconds) + profiler.report(total: seconds))
    }

    /// Tensors of 4 MiB and more get their own mappings, returned to the system when freed.
    /// glibc's dynamic threshold (rising to 32 MiB) would serve mid-sized tensors from arenas that
    /// fragment: a tiled 240×416 decode peaked at 1432 MiB instead of 1022 (docs/vae.md).
    static func tuneAllocator() {
        #if canImport(Glibc)
        // mallopt(M_MMAP_THRESHOLD = -3, …), looked up at run time (malloc.h is not in the Glibc module).
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(symbol, to: MallOpt.self)(-3, 4 << 20)
        }
        #endif
    }

    /// Loads the model part that the command needs.
    func load(_ part: WanVAE.Parts, backend: any Backend) throws -> WanVAE {
        Self.tuneAllocator()
        let wanted: (String) -> Bool = part == .decoder
            ? { $0.hasPrefix("decoder.") || $0.hasPrefix("conv2.") } : { $0.hasPrefix("encoder.") || $0.hasPrefix("conv1.") }
        let tensors: [NamedTensor], source: String, config: ModelConfigFile?
        if let seed = randomWeights {
            tensors = try WanVAERandomWeights.stateDict(WanVAEConfig(dim: randomWidth, zDim: 16), seed: seed, keep: wanted)
            source = "random weights (seed \(seed))"
            config = nil
        } else {
            let ckpt = try Checkpoint.open(path: weights!)
            tensors = ckpt.unprefixedTensors
            source = ckpt.path
            config = try ModelConfigFile.find(for: weights!)
        }
        let architecture = try WanVAEConfig.resolve(tensors: tensors, config: config)
        let store = WeightStore(tensors, source: source, backend: backend, matrixType: dtype.dtype)
        let vae = try WanVAE(store, config: architecture, parts: part)
        logLine("loaded \(architecture) from \(source) on \(backend.name), compute \(dtype.rawValue)")
        for note in vae.loadNotes { logLine("note: \(note)") }
        return vae
    }

    /// The tiling to use for a pass over a latent grid of height×width (latent pixels).
    func tiling(decode: Bool, config: WanVAEConfig, frames: Int, height: Int, width: Int) throws -> VAETiling? {
        let estimate = decode
            ? WanVAE.decodeMemory(config: config, latentFrames: frames, height: height, width: width, dtype: dtype.dtype, streaming: streaming)
            : WanVAE.encodeMemory(config: config, videoFrames: frames, height: height, width: width, dtype: dtype.dtype, streaming: streaming)
        logLine("estimated peak without tiling: \(estimate)")
        switch try tileSetting() {
        case .none: return nil
        case let .fixed(h, w, overlap):
            return try VAETiling(height: h, width: w, overlap: overlap ?? max(1, min(8, min(h, w) / 3)))
        case .auto:
            let budget = try memoryBudget.map(Self.bytes) ?? Self.availableMemory().map { $0 / 5 * 4 } ?? (8 << 30)
            let t = try WanVAE.tiling(budget: budget, config: config, decode: decode, frames: frames, height: height, width: width,
                                      dtype: dtype.dtype, streaming: streaming)
            logLine(t.map { "tiling \($0) to fit \(budget >> 20) MiB" } ?? "no tiling needed for \(budget >> 20) MiB")
            return t
        }
    }

    func write(_ name: String, _ t: Tensor) throws {
        let parent = URL(fileURLWithPath: output).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        try SafetensorsWriter.write([NamedTensor(name: name, tensor: t)], to: output)
        logLine("wrote \(name) \(t.shape) to \(output)")
    }
}

/// Wall time, CPU time and peak resident memory of the process since `start`.
struct RunStats {
    let start = Date()
    let cpu0 = RunStats.cpuSeconds()

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
    }

    static var peakRSS: Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss * 1024   // kilobytes on Linux
    }

    func report(_ what: String) {
        logLine(String(printf: "%@ took %.1f s (CPU %.1f s); peak RSS %d MiB", what, Date().timeIntervalSince(start),
                       RunStats.cpuSeconds() - cpu0, RunStats.peakRSS >> 20))
    }
}

struct ForwardVAEDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-decode",
        abstract: "Wan2.1 VAE decode: reads z [16,T,H,W] (normalized latent); writes video [3,1+4(T-1),8H,8W] in [-1,1].")

    @OptionGroup var options: VAEOptions

    func run() throws {
        do {
            let backend = try options.makeBackend()
            let vae = try options.load(.decoder, backend: backend)
            let z = try Checkpoint.open(path: options.inputs).tensor("z")
            let tiling = try options.tiling(decode: true, config: vae.config, frames: z.shape.count == 4 ? z.shape[1] : 0,
                                            height: z.shape.count == 4 ? z.shape[2] : 0, width: z.shape.count == 4 ? z.shape[3] : 0)
            let input = try backend.upload(z), ctx = ComputeContext(backend: backend, dtype: options.dtype.dtype)
            func pass() throws -> Tensor {
                try backend.toHost(vae.decode(input, ctx, streaming: options.streaming, tiling: tiling))
            }
            try options.warmUpForProfile(pass)
            let stats = RunStats()
            (backend as? ProfilingBackend)?.recording = true
            let host = try pass()
            stats.report("decode of z \(z.shape)")
            options.printProfile(backend, seconds: Date().timeIntervalSince(stats.start))
            try options.write("video", host)
        } catch let e as ValidationError {
            throw e
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct ForwardVAEEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-encode",
        abstract: "Wan2.1 VAE encode: reads video [3,F,H,W] in [-1,1] (F = 4n+1, H and W multiples of 8); writes z [16,n+1,H/8,W/8] = (mu - mean)/std.")

    @OptionGroup var options: VAEOptions

    func run() throws {
        do {
            let backend = try options.makeBackend()
            let vae = try options.load(.encoder, backend: backend)
            let video = try Checkpoint.open(path: options.inputs).tensor("video")
            let s = vae.config.spatialStride
            let ok = video.shape.count == 4
            let tiling = try options.tiling(decode: false, config: vae.config, frames: ok ? video.shape[1] : 0,
                                            height: ok ? video.shape[2] / s : 0, width: ok ? video.shape[3] / s : 0)
            let input = try backend.upload(video), ctx = ComputeContext(backend: backend, dtype: options.dtype.dtype)
            func pass() throws -> Tensor {
                try backend.toHost(vae.encode(input, ctx, streaming: options.streaming, tiling: tiling))
            }
            try options.warmUpForProfile(pass)
            let stats = RunStats()
            (backend as? ProfilingBackend)?.recording = true
            let host = try pass()
            stats.report("encode of video \(video.shape)")
            options.printProfile(backend, seconds: Date().timeIntervalSince(stats.start))
            try options.write("z", host)
        } catch let e as ValidationError {
            throw e
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}
