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
import Dispatch
import SystemSupport
import Media
import Pipeline
import Models
import TensorCore

/// `turbodiffusion bench pipeline`: the whole generation (umT5 encode, [VAE encode of the
/// conditioning clip,] each DiT step, VAE decode, MP4 write) at full size with seeded random weights
/// made in memory, one row per stage with its time, counted FLOPs, rate against the bf16 GEMM peak
/// measured at the start of the run, and peak device memory. scripts/bench/reference.py pipeline
/// prints the same rows for the PyTorch reference stack.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Time every stage of a full-size generation (seeded random weights made in memory, no files).",
        discussion: """
            Before the timed stages each model runs once untimed (kernel compilation, cuBLASLt heuristics, the \
            allocator's first requests): the DiT a full forward per expert, the umT5 encoder a full encode, the VAE \
            a short clip at the full resolution (its chunks have the same shapes). Loading (weights made and \
            uploaded) is not a stage. FLOPs are counted from the shapes (Models/Layers/FLOPCount.swift): linears, \
            attention (dense, or the key blocks SLA keeps plus its linear branch) and convolutions. Lines \
            `STAGE name seconds tflop peak_bytes` repeat the table for scripts.
            """)

    @Option(help: "Model set and resolution: \(PipelineBenchSetup.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: PipelineBenchSetup.Preset = .wan21_1_3b_480p

    @Option(name: [.customLong("attention_type"), .customLong("attention-type")], help: "original, sla or sagesla.")
    var attentionType = "original"

    @Option(name: [.customLong("sla_topk"), .customLong("sla-topk")], help: "SLA top-k share.")
    var slaTopk = 0.1

    @Flag(name: [.customLong("quant_linear"), .customLong("quant-linear")], help: "W8A8 block Linears (quantized while loading).")
    var quantLinear = false

    @Option(name: [.customLong("num_steps"), .customLong("num-steps")], help: "rCM steps (1–4).")
    var numSteps = 4

    @Option(name: .customLong("conv-engine"), help: "CUDA convolution engine of the VAE: cudnn (the default; our kernels where cuDNN is missing or refuses), implicit, implicit-mma or im2col.")
    var convEngine: ConvolutionEngine = .standard

    @Option(help: "auto, cuda or cpu.")
    var device: DeviceChoice = .auto

    @OptionGroup var cudaKernels: CUDAKernelOption

    @Option(help: "Seed of weights and inputs.")
    var seed: UInt64 = 7

    @Option(help: "Blocks of the DiT and of the umT5 encoder (default: the models'; fewer for a quick run).")
    var layers: Int?

    @Option(help: "Video frames (4n+1; default 81).")
    var frames: Int?

    @Option(help: "Video size WxH (multiples of 16; default the preset's).")
    var size: String?

    @Option(name: .customLong("text-tokens"), help: "Tokens the text encoder runs on (default 512).")
    var textTokens: Int?

    @Flag(name: .customLong("tiny-widths"), help: .hidden)
    var tinyWidths = false

    func validate() throws {
        guard SelfAttentionKind.names.contains(attentionType) else { throw ValidationError("--attention_type must be one of \(SelfAttentionKind.names)") }
        guard (1...4).contains(numSteps) else { throw ValidationError("--num_steps must be 1, 2, 3 or 4, got \(numSteps)") }
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1") }
        if let frames, frames < 1 || (frames - 1) % 4 != 0 { throw ValidationError("--frames must be 4n+1, got \(frames)") }
        if let size, GenerationOptions.parseSize(size).map({ $0.width % 16 != 0 || $0.height % 16 != 0 }) ?? true {
            throw ValidationError("--size must be WxH in multiples of 16, got '\(size)'")
        }
        if let textTokens, !(1...512).contains(textTokens) { throw ValidationError("--text-tokens must be 1…512, got \(textTokens)") }
    }

    func setup() -> PipelineBenchSetup {
        var s = PipelineBenchSetup(preset, tinyWidths: tinyWidths)
        if let layers { (s.dit.numLayers, s.text.numLayers) = (layers, layers) }
        if let frames { s.frames = frames }
        if let size, let v = GenerationOptions.parseSize(size) { (s.width, s.height) = (v.width, v.height) }
        if let textTokens { s.textTokens = textTokens }
        return s
    }

    func run() throws {
        let s = setup()
        let attention = SelfAttentionKind(name: attentionType, topk: slaTopk) ?? .original
        let backend = try device.makeBackend(convolutionEngine: convEngine, kernels: cudaKernels.kernels)
        // The reference stack computes in bf16 on a GPU; the CPU (a functional check) uses f32.
        let dtype: DType = backend is CPUBackend ? .f32 : .bf16
        let ctx = ComputeContext(backend: backend, dtype: dtype)
        let clock = StageClock(backend: backend)
        print("bench pipeline \(preset.rawValue): \(s.frames) frames \(s.width)x\(s.height), \(numSteps) steps, self-attention \(attention)"
              + "\(quantLinear ? ", W8A8 linears" : ""), compute \(dtype), on \(backend.name)")
        print("DiT \(s.dit)\(s.experts == 2 ? " ×2 experts (boundary 0.9)" : ""); umT5 \(s.text.dim) wide, \(s.text.numLayers) blocks, "
              + "\(s.textTokens) tokens; \(s.vae)")

        let sizes = backend is CPUBackend ? [(m: 256, n: 256, k: 256)] : [(m: 8192, n: 8192, k: 8192), (m: 16384, n: 8192, k: 4096)]
        let peak = try PipelineBenchReport.gemmPeak(backend, sizes: sizes)
        print(String(printf: "GEMM peak: %.1f TFLOP/s (bf16 %@, median of 10 after 3 warm-ups, through the backend's matmul)",
                     peak.flops / 1e12, peak.shape))
        print("warm-up: each model runs once before its timed stage (kernel compilation, cuBLASLt heuristics); not counted below")
        var stages: [PipelineStage] = []

        // umT5 encode.
        var rng = SplitMixInputs(seed: seed ^ 0x7E57)
        let context: Tensor = try {
            let encoder = try load("umT5") {
                try UMT5Encoder(WeightStore(UMT5RandomWeights.stateDict(s.text, seed: seed), source: "seeded umT5",
                                            backend: backend, matrixType: dtype), config: s.text)
            }
            let ids = rng.values(s.textTokens).map { Int(($0 + 1) / 2 * Float(s.text.vocabSize - 1)) }
            let tokens = try TokenSequence(ids: ids)
            _ = try encoder.encode(tokens, ctx)
            let (out, stage) = try clock.measure("umt5_encode", flops: s.text.encodeFLOPs(tokens: s.textTokens)) {
                try encoder.encode(tokens, ctx)
            }
            stages.append(stage)
            return out
        }()

        let vae = try load("VAE") {
            try WanVAE(WeightStore(WanVAERandomWeights.stateDict(s.vae, seed: seed), source: "seeded VAE", backend: backend,
                                   matrixType: dtype), config: s.vae)
        }
        let (h, w) = (s.height, s.width)

        // I2V: the conditioning clip (a seeded first frame, then zeros) through the VAE encoder.
        var condition: Tensor?
        if s.conditioned {
            let plane = h * w
            var clip = [Float](repeating: 0, count: 3 * s.frames * plane)
            let image = rng.values(3 * plane)
            for c in 0..<3 { for p in 0..<plane { clip[c * s.frames * plane + p] = image[c * plane + p] } }
            let warm = try backend.upload(Tensor.host(Array(repeating: Float(0.5), count: 3 * min(5, s.frames) * plane), shape: [3, min(5, s.frames), h, w]))
            _ = try vae.encode(warm, ctx)
            let input = try backend.upload(Tensor.host(clip, shape: [3, s.frames, h, w]))
            let (t, lh, lw) = (s.latentShape[1], s.latentShape[2], s.latentShape[3])
            var mask = [Float](repeating: 0, count: 4 * t * lh * lw)
            for c in 0..<4 { for p in 0..<(lh * lw) { mask[c * t * lh * lw + p] = 1 } }
            // The condition: a 4-channel mask that is 1 on latent frame 0, then the clip's latent.
            let (encoded, stage) = try clock.measure("vae_encode", flops: s.vae.encodeFLOPs(videoFrames: s.frames, height: h, width: w)) {
                try backend.concat([backend.upload(Tensor.host(mask, shape: [4, t, lh, lw])),
                                    backend.contiguous(vae.encode(input, ctx), dtype: .f32)], dim: 0)
            }
            stages.append(stage)
            condition = encoded
        }

        // DiT steps, as the pipeline runs them: the sampler on the host, each step's latent uploaded,
        // (I2V: the condition appended,) one forward of the step's expert, the velocity read back.
        let experts = try (0..<s.experts).map { k in
            try load(s.experts == 2 ? (k == 0 ? "DiT high-noise expert" : "DiT low-noise expert") : "DiT") {
                let store = WeightStore(try WanDiTRandomWeights.stateDict(s.dit, layout: .turbo, seed: seed &+ UInt64(k)),
                                        source: "seeded DiT", backend: backend, matrixType: dtype, linearMode: quantLinear ? .w8a8 : .dense)
                if case .original = attention {
                    store.ignore(where: { $0.contains(".attn_op.local_attn.proj_l.") }, note: "SLA projections unused with dense attention")
                }
                return try WanDiT(store, config: s.dit, attention: attention)
            }
        }
        let boundary = 0.9
        let sampler = try RCMSampler(steps: numSteps, sigmaMax: 80)
        let count = s.latentShape.reduce(1, *)
        // Where a step's time goes besides the forward (printed per step): the latent's upload, the
        // forward itself, the velocity's read back, and the sampler's host work since the last read back.
        var split = StepSplit()
        func forward(_ x: [Float], _ expert: Int, _ timestep: Double) throws -> [Float] {
            var input = try backend.upload(Tensor.host(x, shape: s.latentShape))
            if let condition { input = try backend.concat([input, condition], dim: 0) }
            try backend.synchronize()
            split.mark(\.upload)
            let v = try experts[expert](x: input, timestep: timestep, context: context, ctx)
            try backend.synchronize()
            split.mark(\.forward)
            let values = try backend.toHost(v).floats()
            split.mark(\.readBack)
            return values
        }
        let warmInput = try PhiloxNoise(seed: seed).initial(count: count)
        for k in 0..<s.experts {      // the high-noise expert at the first step's timestep, the low-noise one at the last's
            _ = try forward(warmInput, k, (k == 0 ? sampler.plan.first! : sampler.plan.last!).timestep)
        }
        // A step's row runs from its start to the next step's (the sampler's update and noise on the
        // host included), so the rows add up to the wall time of the loop.
        let stepFLOPs = s.dit.forwardFLOPs(tokens: s.tokens, attention: attention)
        var open: (name: String, start: UInt64)?
        func close() throws {
            guard let o = open else { return }
            try backend.synchronize()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - o.start) / 1e9
            stages.append(PipelineStage(name: o.name, seconds: seconds, flops: stepFLOPs, peakBytes: clock.cuda?.memoryStatistics.peak))
            open = nil
        }
        try backend.synchronize()
        let latents = try sampler.sample(count: count, noise: PhiloxNoise(seed: seed)) { x, step in
            try close()
            clock.cuda?.resetPeakMemory()
            let expert = s.experts == 2 && step.r < boundary ? 1 : 0
            split.mark(\.sampler)
            if step.index > 0 { logLine(split.line(step: step.index)) }
            split = StepSplit()
            open = ("dit_step_\(step.index + 1)" + (s.experts == 2 ? (expert == 0 ? "_high" : "_low") : ""), DispatchTime.now().uptimeNanoseconds)
            return try forward(x, expert, step.timestep)
        }
        try close()
        split.mark(\.sampler)
        logLine(split.line(step: sampler.steps))

        // VAE decode (the video converted to frame bytes on the device and read back, as the
        // pipeline does), then the MP4.
        // The frame grouping the memory plan would choose: whole chunks per layer where they fit.
        let z = try backend.upload(Tensor.host(latents, shape: s.latentShape))
        var streaming = VAEStreaming.reference
        if let cuda = backend as? CUDABackend,
           MemoryPlanner.wholeChunkDecode(s.vae, latent: s.latentShape, dtype: dtype, budget: try MemoryPlanning.budget(cuda, maxVram: nil).bytes) != nil {
            streaming = .wholeChunks
        }
        logLine("VAE decode: \(streaming == .wholeChunks ? "whole chunks per layer" : "frame groups of the reference size")")
        _ = try backend.toHost(vae.decode(backend.contiguous(z.narrowed(dim: 1, start: 0, length: min(2, s.latentFrames)), dtype: nil), ctx,
                                          streaming: streaming))
        let (video, decode) = try clock.measure("vae_decode", flops: s.vae.decodeFLOPs(latentFrames: s.latentFrames, height: h / 8, width: w / 8)) {
            try backend.toHost(backend.videoBytes(vae.decode(z, ctx, streaming: streaming)))   // [F, H, W, 3] u8
        }
        stages.append(decode)
        guard video.shape == [s.frames, h, w, 3] else { throw ValidationError("the VAE decoded \(video.shape)") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("td-bench-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (written, mp4) = try clock.measure("mp4_write", flops: FLOPCount()) {
            let frameBytes = 3 * h * w
            let rgb = try video.withUnsafeBytes { all in
                try (0..<s.frames).map { t in
                    try RGBImage(width: w, height: h, pixels: Array(all[(t * frameBytes)..<((t + 1) * frameBytes)]))
                }
            }
            return try VideoWriter.writeMP4(rgb, to: path, options: VideoWriteOptions(fps: 16, writer: .builtin))
        }
        stages.append(PipelineStage(name: mp4.name, seconds: mp4.seconds, flops: mp4.flops, peakBytes: nil))
        print("wrote \(written.frameCount) frames \(written.width)x\(written.height) (\(written.bytes) bytes) with the built-in writer")
        PipelineBenchReport.print(stages, peak: peak.flops)
    }

    /// Builds a model (weights made in memory and uploaded), saying how long it took; not a stage.
    func load<T>(_ what: String, _ body: () throws -> T) throws -> T {
        let start = Date()
        let value = try body()
        logLine(String(printf: "made and loaded %@ in %.1f s (not timed as a stage)", what, Date().timeIntervalSince(start)))
        return value
    }
}
