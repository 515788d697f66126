import ArgumentParser
import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media
import Models
import Pipeline
import TensorCore

/// Flags shared by `t2v` and `i2v` (docs/pipeline.md: upstream's snake_case names, kebab-case aliases).
struct GenerationOptions: ParsableArguments {
    @Option(help: "What the video shows (required unless --serve).")
    var prompt: String?

    @Option(name: [.customLong("num_samples"), .customLong("num-samples")], help: "Videos from the prompt, tiled side by side.")
    var numSamples = 1

    @Option(name: [.customLong("num_steps"), .customLong("num-steps")], help: "Sampling steps, 1–4.")
    var numSteps = 4

    @Option(name: [.customLong("sigma_max"), .customLong("sigma-max")], help: "Initial sigma of rCM (default: 80 for t2v, 200 for i2v); larger values trade diversity for quality.")
    var sigmaMax: Double?

    @Option(name: [.customLong("num_frames"), .customLong("num-frames")], help: "Frames to generate, 4n+1 (default 81 = 5 s at 16 fps; 17 for the demo models).")
    var numFrames: Int?

    /// Frames to generate (upstream's default 81).
    var frames: Int { numFrames ?? 81 }

    @Option(help: "Output resolution: 480p or 720p (default: 480p for t2v, 720p for i2v).")
    var resolution: String?

    @Option(name: [.customLong("aspect_ratio"), .customLong("aspect-ratio")], help: "Aspect ratio W:H: 16:9, 9:16, 4:3, 3:4 or 1:1.")
    var aspectRatio = "16:9"

    @Option(help: "A custom output size WxH (multiples of 16, e.g. 256x256) instead of --resolution and --aspect_ratio.")
    var size: String?

    @Option(help: "Seed of the noise; the same seed gives the same video on any machine.")
    var seed: UInt64 = 0

    @Option(name: [.customLong("save_path"), .customLong("save-path")], help: "Where to write the MP4 (default: outputs/{t2v|i2v}_{seed}_{model}_{date_time}.mp4).")
    var savePath: String?

    @Option(name: [.customLong("frames_dir"), .customLong("frames-dir")], help: "Also write every frame as PNG into this folder.")
    var framesDir: String?

    @Option(name: [.customLong("attention_type"), .customLong("attention-type")], help: "Self-attention: original, sla or sagesla.")
    var attentionType = "sagesla"

    @Option(name: [.customLong("sla_topk"), .customLong("sla-topk")], help: "Share of key blocks SLA/SageSLA keeps, in (0, 1] (default 0.1; 0.15 gives better quality; --model demo: the value its training used).")
    var slaTopk: Double?

    @Flag(name: [.customLong("quant_linear"), .customLong("quant-linear")], help: "Run the block Linears as W8A8 (use with the -quant checkpoints).")
    var quantLinear = false

    @Flag(name: [.customLong("default_norm"), .customLong("default-norm")], help: "Accepted for compatibility: norms always compute exactly as the reference's.")
    var defaultNorm = false

    @Flag(help: "Deterministic ODE updates instead of SDE (sharper, less robust).")
    var ode = false

    @Option(name: [.customLong("vae_path"), .customLong("vae-path")], help: "The Wan2.1 VAE.")
    var vaePath = ModelCatalog.vaeDefault

    @Option(name: [.customLong("text_encoder_path"), .customLong("text-encoder-path")], help: "The umT5-XXL encoder.")
    var textEncoderPath = ModelCatalog.textEncoderDefault

    @Option(name: [.customLong("tokenizer_path"), .customLong("tokenizer-path")], help: "Folder with spiece.model or tokenizer.json of google/umt5-xxl, or the file.")
    var tokenizerPath = ModelCatalog.tokenizerDefault

    @Option(help: "Where to compute: auto (CUDA when a GPU can be used, else the CPU), cuda or cpu.")
    var device: DeviceChoice = .auto

    @Option(name: [.customLong("dit_device"), .customLong("dit-device")], help: "Device of the DiT (default: --device).")
    var ditDevice: DeviceChoice?

    @Option(name: [.customLong("vae_device"), .customLong("vae-device")], help: "Device of the VAE (default: --device).")
    var vaeDevice: DeviceChoice?

    @Option(name: [.customLong("text_encoder_device"), .customLong("text-encoder-device")], help: "Device of the umT5 text encoder (default: --device).")
    var textEncoderDevice: DeviceChoice?

    @Option(help: "GPUs the DiT runs on (CUDA devices 0..<N, sequence parallel over NCCL; docs/multi-gpu.md). The attention heads must divide evenly: 2, 4, 5 or 8 for the 14B models.")
    var gpus = 1

    @Option(name: [.customLong("max_vram"), .customLong("max-vram")],
            help: "Most GPU memory (GiB) this run may hold; allocations beyond it fail as out-of-memory would.")
    var maxVram: Double?

    @Option(name: [.customLong("vae_dtype"), .customLong("vae-dtype")],
            help: "VAE compute type: f32 or bf16 (default: bf16 on a GPU, f32 on the CPU).")
    var vaeDtype: ComputeType?

    @Option(help: "Compute type: bf16 (production) or f32.")
    var dtype: ComputeType = .bf16

    @Option(help: "H.264 quality as x264 CRF, 0 (lossless) to 51; lower is better.")
    var crf = 15

    @Option(name: [.customLong("video_writer"), .customLong("video-writer")], help: "auto (ffmpeg when on PATH, else built-in), ffmpeg or builtin.")
    var videoWriter = "auto"

    @Flag(help: "Interactive session: models stay loaded; type prompts, /help for commands.")
    var serve = false

    func validate() throws {
        if prompt == nil && !serve { throw ValidationError("give --prompt \"…\" (or --serve for an interactive session)") }
        if let p = prompt, (try? PromptInput.cleaned(p)) == nil { throw ValidationError("--prompt: \(PromptInput.Empty())") }
        guard (1...4).contains(numSteps) else { throw ValidationError("--num_steps must be 1, 2, 3 or 4, got \(numSteps)") }
        guard numSamples >= 1 else { throw ValidationError("--num_samples must be at least 1, got \(numSamples)") }
        if let m = VideoGeometry.problem(frames: frames, size: VideoSize(width: 16, height: 16)) { throw ValidationError(m) }
        if let r = resolution, Resolution(rawValue: r) == nil {
            throw ValidationError("--resolution must be 480p or 720p, got '\(r)'")
        }
        if let size {
            guard let s = Self.parseSize(size) else { throw ValidationError("--size must look like 256x256, got '\(size)'") }
            if let m = VideoGeometry.problem(frames: frames, size: s) { throw ValidationError(m) }
        }
        guard AspectRatio(rawValue: aspectRatio) != nil else {
            throw ValidationError("--aspect_ratio must be one of \(AspectRatio.allCases.map(\.rawValue).joined(separator: ", ")), got '\(aspectRatio)'")
        }
        guard SelfAttentionKind.names.contains(attentionType) else {
            throw ValidationError("--attention_type must be original, sla or sagesla, got '\(attentionType)'")
        }
        if let slaTopk, !(slaTopk > 0 && slaTopk <= 1) { throw ValidationError("--sla_topk must lie in (0, 1], got \(slaTopk)") }
        if let s = sigmaMax, !(s > 0) { throw ValidationError("--sigma_max must be positive, got \(s)") }
        guard gpus >= 1 else { throw ValidationError("--gpus must be at least 1, got \(gpus)") }
        if gpus > 1 && (ditDevice ?? device) == .cpu {
            throw ValidationError("--gpus \(gpus) runs the DiT on CUDA devices; it cannot be combined with --\(ditDevice == nil ? "device" : "dit_device") cpu")
        }
        if let maxVram, !(maxVram > 0) { throw ValidationError("--max_vram must be a positive number of GiB, got \(maxVram)") }
        guard (0...51).contains(crf) else { throw ValidationError("--crf must be 0…51, got \(crf)") }
        guard ["auto", "ffmpeg", "builtin"].contains(videoWriter) else {
            throw ValidationError("--video_writer must be auto, ffmpeg or builtin, got '\(videoWriter)'")
        }
    }

    /// The backends of the three components: each placement flag, else --device. One backend per
    /// device, shared by the components placed on it (one CUDA context, one allocator).
    func placement() throws -> (textEncoder: any Backend, dit: any Backend, vae: any Backend) {
        var made: [DeviceChoice: any Backend] = [:]
        func backend(_ choice: DeviceChoice?) throws -> any Backend {
            let c = choice ?? device
            if let b = made[c] { return b }
            let b = try c.makeBackend()
            if let maxVram, let cuda = b as? CUDABackend {
                cuda.setMemoryLimit(Int(maxVram * 1_073_741_824))
                logLine(String(printf: "device memory limited to %.1f GiB (--max_vram)", maxVram))
            }
            made[c] = b
            return b
        }
        let dit = try backend(ditDevice)
        let placed = (textEncoder: try backend(textEncoderDevice), dit: dit, vae: try backend(vaeDevice))
        if Set([placed.textEncoder.name, placed.dit.name, placed.vae.name]).count > 1 {
            logLine("placement: text encoder on \(placed.textEncoder.name), DiT on \(placed.dit.name), VAE on \(placed.vae.name)")
        } else {
            logLine("computing on \(dit.name)")
        }
        return placed
    }

    /// The self-attention of --attention_type with upstream's block sizes (sla 128×64, sagesla 64×128)
    /// or the given ones, and --sla_topk or else `defaultTopk` (upstream's 0.1).
    func attention(blocks: (q: Int, k: Int)? = nil, defaultTopk: Double = 0.1) -> SelfAttentionKind {
        SelfAttentionKind(name: attentionType, topk: slaTopk ?? defaultTopk, blockQ: blocks?.q, blockK: blocks?.k) ?? .original
    }

    func size(defaultResolution: Resolution) -> VideoSize {
        if let size, let s = Self.parseSize(size) { return s }
        return VideoGeometry.size(resolution.flatMap(Resolution.init) ?? defaultResolution, AspectRatio(rawValue: aspectRatio)!)
    }

    static func parseSize(_ s: String) -> VideoSize? {
        let parts = s.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else { return nil }
        return VideoSize(width: w, height: h)
    }

    var writeOptions: VideoWriteOptions {
        var o = VideoWriteOptions()
        o.crf = crf
        o.writer = videoWriter == "ffmpeg" ? .ffmpeg : videoWriter == "builtin" ? .builtin : .auto
        return o
    }
}
