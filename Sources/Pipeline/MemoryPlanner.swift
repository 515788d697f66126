#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import TensorCore

/// Device memory one generation may use: the card's free memory, or `--max_vram`.
public struct MemoryBudget: Sendable, Equatable {
    /// Bytes the generation's tensors may hold at once.
    public var bytes: Int
    /// Where the figure comes from, e.g. "--max_vram 24" or "free on cuda:0".
    public var source: String
    public init(bytes: Int, source: String) {
        self.bytes = bytes
        self.source = source
    }
}

/// What the planner needs to know about a run, all available before any weight is loaded.
public struct MemoryPlanInput: Sendable {
    /// The DiT's architecture (each I2V expert has the same one).
    public var dit: WanDiTConfig
    /// The block Linears run as W8A8 (int8 weights on the device).
    public var quantized: Bool
    /// Compute type of the DiT and the text encoder (their matrices are held in it).
    public var computeType: DType
    public var attention: SelfAttentionKind
    public var textEncoder: UMT5Config
    public var vae: WanVAEConfig
    /// Compute type of the VAE.
    public var vaeType: DType
    /// Which components compute on the planned device (the others cost it nothing).
    public var textEncoderOnDevice: Bool, ditOnDevice: Bool, vaeOnDevice: Bool
    /// The interactive session wants every model kept loaded between prompts.
    public var keepResident: Bool
    /// DiTs of the run (I2V: the two experts; one is resident at a time unless kept resident).
    public var experts: Int

    public init(dit: WanDiTConfig, quantized: Bool, computeType: DType, attention: SelfAttentionKind,
                textEncoder: UMT5Config = .umt5XXL, vae: WanVAEConfig = .wan21, vaeType: DType = .bf16,
                textEncoderOnDevice: Bool = true, ditOnDevice: Bool = true, vaeOnDevice: Bool = true, keepResident: Bool = false,
                experts: Int = 1) {
        self.experts = experts
        self.dit = dit
        self.quantized = quantized
        self.computeType = computeType
        self.attention = attention
        self.textEncoder = textEncoder
        self.vae = vae
        self.vaeType = vaeType
        self.textEncoderOnDevice = textEncoderOnDevice
        self.ditOnDevice = ditOnDevice
        self.vaeOnDevice = vaeOnDevice
        self.keepResident = keepResident
    }
}

/// Where each model lives for one generation, and the predicted peak of each stage.
public struct MemoryPlan: Sendable, CustomStringConvertible {
    public enum TextEncoderPlacement: String, Sendable { case device = "on the GPU, released after", host = "on the CPU (does not fit)" }
    public enum DiTResidency: String, Sendable { case resident, streamed = "streamed block by block" }

    /// One stage's prediction, in bytes (weights as held on the device, activations with the margin).
    public struct Stage: Sendable {
        public var name: String
        public var placement: String
        public var weights: Int
        public var activations: Int
        public var peak: Int { weights + activations }
    }

    public var budget: MemoryBudget
    public var textEncoder: TextEncoderPlacement
    public var dit: DiTResidency
    /// Tiles of the VAE decode (nil: whole frames) and of the I2V conditioning encode.
    public var decodeTiling: VAETiling?
    public var encodeTiling: VAETiling?
    /// How the decode feeds frames through each layer: `.reference` splits a chunk into groups of
    /// about one frame at the widest layers; where the whole chunk fits (`.wholeChunks`) each layer takes
    /// it at once, which makes fewer, larger convolutions. Both give the same video.
    public var decodeStreaming: VAEStreaming = .reference
    /// Models stay loaded between generations (false when the session's models do not fit together).
    public var keepResident: Bool
    public var stages: [Stage]

    public var peak: Int { stages.map(\.peak).max() ?? 0 }

    static func gib(_ b: Int) -> String { String(printf: "%.2f GiB", Double(b) / 1_073_741_824) }

    /// The plan as a short table: stage, placement, weights, activations, peak; then the budget.
    public var description: String {
        let rows = stages.map { [$0.name, $0.placement, Self.gib($0.weights), Self.gib($0.activations), Self.gib($0.peak)] }
        let header = ["stage", "placement", "weights", "activations", "peak"]
        let widths = (0..<header.count).map { i in ([header] + rows).map { $0[i].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, s in i < 2 ? s.padded(to: widths[i])
                                               : String(repeating: " ", count: widths[i] - s.count) + s }
                .joined(separator: "  ")
        }
        var out = ["memory plan (\(budget.source): \(Self.gib(budget.bytes)); predicted peak \(Self.gib(peak)))", line(header)]
        out += rows.map(line)
        if keepResident { out.append("models stay loaded between prompts (all fit together)") }
        return out.joined(separator: "\n")
    }
}

public struct MemoryPlanError: Error, CustomStringConvertible {
    public let description: String
}

/// Decides from the architectures, the request and the budget where each model lives (docs/pipeline.md,
/// "Memory"), so that every stage's predicted peak fits; refuses with the numbers when none does.
/// Pure arithmetic: nothing is loaded or allocated.
public enum MemoryPlanner {
    /// Activations are predicted by `MemoryFootprint` term by term; against the measured peaks
    /// (docs/performance.md) the terms land within −5 % … +5 %, so 10 % is added on top.
    public static let activationMargin = 0.10
    /// Held back for what the terms do not cover: the sampler's latent and velocity on the device,
    /// the allocator's rounding, kernels' small workspaces.
    public static let reserve = 256 << 20
    /// Blocks of a streamed DiT on the device at once: the running one and the next one arriving.
    public static let streamedBlocks = 2

    /// The VAE's own memory model (`WanVAE.decodeMemory`/`encodeMemory`) is 8 % over the measured
    /// 720p decode peak and 13 % under the measured 720p conditioning encode (docs/performance.md):
    /// the encode's working memory gets 20 %, the decode's none (a needless margin there would tile,
    /// and tiling is not exact).
    public static let vaeEncodeMargin = 0.20

    static func margined(_ activations: Int, _ margin: Double = activationMargin) -> Int {
        Int(Double(activations) * (1 + margin)) + reserve
    }

    public static func plan(_ input: MemoryPlanInput, request r: GenerationRequest, budget: MemoryBudget) throws -> MemoryPlan {
        if let p = r.problem { throw PipelineError.invalidRequest(p) }
        let i = input, imageToVideo = r.image != nil
        let latent = VideoGeometry.latentShape(frames: r.frames, size: r.size)     // [16, T, h, w]
        let tokens = latent[1] * (latent[2] / VideoGeometry.patch) * (latent[3] / VideoGeometry.patch)
        let sparse = i.attention != .original

        // Text encoder.
        var stages: [MemoryPlan.Stage] = []
        let t5Weights = MemoryFootprint.textEncoderBytes(i.textEncoder, type: i.computeType)
        let t5Activations = margined(MemoryFootprint.textEncoderActivations(i.textEncoder, tokens: 512))
        var t5Placement = MemoryPlan.TextEncoderPlacement.device
        if !i.textEncoderOnDevice || t5Weights + t5Activations > budget.bytes { t5Placement = .host }
        let t5OnDevice = i.textEncoderOnDevice && t5Placement == .device
        stages.append(.init(name: "encode text", placement: i.textEncoderOnDevice ? t5Placement.rawValue : "on the CPU (--text_encoder_device)",
                            weights: t5OnDevice ? t5Weights : 0, activations: t5OnDevice ? t5Activations : 0))

        // VAE: encode (I2V) and decode, tiled when the whole frames do not fit.
        let (h, w) = (latent[2], latent[3])
        var encodeTiling: VAETiling?, decodeTiling: VAETiling?
        if i.vaeOnDevice {
            do {
                if imageToVideo {
                    encodeTiling = try WanVAE.tiling(budget: Int(Double(budget.bytes - reserve) / (1 + vaeEncodeMargin)), config: i.vae, decode: false, frames: r.frames,
                                                     height: h, width: w, dtype: i.vaeType)
                }
                decodeTiling = try WanVAE.tiling(budget: budget.bytes - reserve, config: i.vae, decode: true, frames: latent[1],
                                                 height: h, width: w, dtype: i.vaeType)
            } catch {
                throw MemoryPlanError(description: "the VAE does not fit \(MemoryPlan.gib(budget.bytes)) (\(budget.source)): \(error); "
                                      + "try a smaller --size or --vae_device cpu")
            }
        }
        func vaeStage(_ name: String, _ estimate: VAEMemoryEstimate, _ tiling: VAETiling?, margin: Double) -> MemoryPlan.Stage {
            guard i.vaeOnDevice else { return .init(name: name, placement: "on the CPU (--vae_device)", weights: 0, activations: 0) }
            return .init(name: name, placement: tiling.map { "tiles of \($0)" } ?? "whole frames",
                         weights: estimate.weights, activations: margined(estimate.total - estimate.weights, margin))
        }
        func vaeEstimate(decode: Bool, _ tiling: VAETiling?) -> VAEMemoryEstimate {
            let (th, tw) = tiling.map { ($0.height, $0.width) } ?? (h, w)
            return decode ? WanVAE.decodeMemory(config: i.vae, latentFrames: latent[1], height: th, width: tw, dtype: i.vaeType)
                          : WanVAE.encodeMemory(config: i.vae, videoFrames: r.frames, height: th, width: tw, dtype: i.vaeType)
        }
        if imageToVideo {
            stages.append(vaeStage("encode image", vaeEstimate(decode: false, encodeTiling), encodeTiling, margin: vaeEncodeMargin))
        }

        // DiT: resident when all of it fits beside one forward's activations, else streamed.
        let ditWeights = MemoryFootprint.ditBytes(i.dit, type: i.computeType, quantized: i.quantized, sparse: sparse)
        let ditActivations = margined(MemoryFootprint.ditActivations(i.dit, tokens: tokens, type: i.computeType, quantized: i.quantized,
                                                                     attention: i.attention))
        let streamedWeights = MemoryFootprint.ditSharedBytes(i.dit, type: i.computeType)
            + streamedBlocks * MemoryFootprint.ditBlockBytes(i.dit, type: i.computeType, quantized: i.quantized, sparse: sparse)
        var residency = MemoryPlan.DiTResidency.resident
        if i.ditOnDevice && ditWeights + ditActivations > budget.bytes { residency = .streamed }
        let denoiseWeights = !i.ditOnDevice ? 0 : residency == .resident ? ditWeights : streamedWeights
        stages.append(.init(name: "denoise", placement: i.ditOnDevice ? "DiT \(residency.rawValue)" : "on the CPU (--dit_device)",
                            weights: denoiseWeights, activations: i.ditOnDevice ? ditActivations : 0))
        stages.append(vaeStage("decode", vaeEstimate(decode: true, decodeTiling), decodeTiling, margin: 0))

        var plan = MemoryPlan(budget: budget, textEncoder: t5Placement, dit: residency, decodeTiling: decodeTiling,
                              encodeTiling: encodeTiling, keepResident: false, stages: stages)
        if let over = plan.stages.first(where: { $0.peak > budget.bytes }) {
            throw MemoryPlanError(description: refusal(plan, stage: over, input: i, request: r, budget: budget))
        }
        // The session keeps models loaded only when all of them fit beside the largest activations.
        let vaeWeights = i.vae.parameterBytes(decoder: true, dtype: i.vaeType) + i.vae.parameterBytes(decoder: false, dtype: i.vaeType)
        let allWeights = (t5OnDevice ? t5Weights : 0) + (i.ditOnDevice ? i.experts * ditWeights : 0) + (i.vaeOnDevice ? vaeWeights : 0)
        if i.keepResident {
            plan.keepResident = residency == .resident && allWeights + plan.stages.map(\.activations).max()! <= budget.bytes
        }
        // Whole chunks per layer call in the decode when that fits as well as the reference grouping
        // does: within the budget, and without costing the session its resident models.
        if i.vaeOnDevice, decodeTiling == nil,
           let wideEstimate = wholeChunkDecode(i.vae, latent: latent, dtype: i.vaeType, budget: budget.bytes) {
            let wide = vaeStage("decode", wideEstimate, nil, margin: 0)
            let othersActivations = plan.stages.dropLast().map(\.activations).max() ?? 0
            let keepsResidency = !plan.keepResident || allWeights + max(othersActivations, wide.activations) <= budget.bytes
            if keepsResidency {
                plan.stages[plan.stages.count - 1] = wide
                plan.decodeStreaming = .wholeChunks
            }
        }
        return plan
    }

    /// The untiled decode's estimate with whole chunks per layer (`VAEStreaming.wholeChunks`) of a
    /// latent [16, T, h, w], when it fits `budget` bytes beside the reserve; nil when it does not.
    public static func wholeChunkDecode(_ vae: WanVAEConfig, latent: [Int], dtype: DType, budget: Int) -> VAEMemoryEstimate? {
        let estimate = WanVAE.decodeMemory(config: vae, latentFrames: latent[1], height: latent[2], width: latent[3], dtype: dtype,
                                           streaming: .wholeChunks)
        return estimate.total + reserve <= budget ? estimate : nil
    }

    /// The refusal: the stage that does not fit (needed vs available), and settings that would.
    static func refusal(_ plan: MemoryPlan, stage: MemoryPlan.Stage, input: MemoryPlanInput, request r: GenerationRequest,
                        budget: MemoryBudget) -> String {
        var out = "not enough device memory: \(stage.name) needs \(MemoryPlan.gib(stage.peak)) (\(stage.placement): weights "
            + "\(MemoryPlan.gib(stage.weights)), activations \(MemoryPlan.gib(stage.activations))), "
            + "\(MemoryPlan.gib(budget.bytes)) available (\(budget.source))"
        var fits: [String] = []
        func attempt(_ what: String, _ change: (inout MemoryPlanInput, inout GenerationRequest) -> Void) {
            var i = input, q = r
            change(&i, &q)
            if let p = try? MemoryPlanner.plan(i, request: q, budget: budget) { fits.append("\(what) (predicted peak \(MemoryPlan.gib(p.peak)))") }
        }
        if !input.quantized { attempt("--quant_linear") { i, _ in i.quantized = true } }
        for (name, size) in [("--resolution 480p", VideoGeometry.size(.p480, .wide)), ("--size 640x352", VideoSize(width: 640, height: 352))]
            where size.width * size.height < r.size.width * r.size.height {
            attempt(name) { _, q in q.size = size }
        }
        if r.frames > 33 { attempt("--num_frames 33") { _, q in q.frames = 33 } }
        if input.ditOnDevice { attempt("--dit_device cpu (slow)") { i, _ in i.ditOnDevice = false } }
        out += fits.isEmpty ? "; no smaller setting tried fits" : "; would fit: " + fits.joined(separator: ", ")
        return out + "\n" + plan.description
    }
}
