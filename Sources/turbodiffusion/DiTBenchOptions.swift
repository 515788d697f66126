import ArgumentParser
import Checkpoints
import Models
import TensorCore

/// What `bench dit` and `bench sequence-parallel` run by default (one GPU at 480p, or the 14B at
/// 720p over several); everything else about their shared options is the same.
protocol DiTBenchDefaults {
    static var preset: BenchDiTMemory.Preset { get }
    static var size: String { get }
    static var attentionType: String { get }
    static var framesHelp: String { get }
}

/// The options of the benches that time a full-size DiT on seeded random weights: the model, the
/// clip, the compute type, the attention, the Linears and the seed. From them come the config,
/// the latent grid, the seeded inputs and the loaded model, so the benches make them alike.
struct DiTBenchOptions<Defaults: DiTBenchDefaults>: ParsableArguments {
    @Option(help: "Architecture: \(BenchDiTMemory.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: BenchDiTMemory.Preset = Defaults.preset

    @Option(help: ArgumentHelp(Defaults.framesHelp))
    var frames = 81

    @Option(help: "Video size WxH (multiples of 16).")
    var size = Defaults.size

    @Option(help: "Compute type: bf16 or f32.")
    var dtype: ComputeType = .bf16

    @Option(name: [.customLong("attention_type"), .customLong("attention-type")], help: "original, sla or sagesla.")
    var attentionType = Defaults.attentionType

    @Option(name: [.customLong("sla_topk"), .customLong("sla-topk")], help: "SLA top-k share.")
    var slaTopk = 0.1

    @Flag(name: [.customLong("quant_linear"), .customLong("quant-linear")], help: "W8A8 block Linears (quantized while loading).")
    var quantLinear = false

    @Option(help: "Seed of weights and inputs.")
    var seed: UInt64 = 7

    func validate() throws {
        guard let s = GenerationOptions.parseSize(size), s.width % 16 == 0, s.height % 16 == 0 else {
            throw ValidationError("--size must be WxH in multiples of 16, got '\(size)'")
        }
        guard frames >= 1, (frames - 1) % 4 == 0 else { throw ValidationError("--frames must be 4n+1, got \(frames)") }
        guard SelfAttentionKind.names.contains(attentionType) else { throw ValidationError("--attention_type must be one of \(SelfAttentionKind.names)") }
    }

    /// The preset's DiT (`layers` blocks when given) with the 512-token text context of a generation.
    func config(layers: Int? = nil) -> WanDiTConfig {
        var config = preset.config
        if let layers { config.numLayers = layers }
        config.textLength = 512
        return config
    }

    var attention: SelfAttentionKind { SelfAttentionKind(name: attentionType, topk: slaTopk) ?? .original }

    /// The latent grid of the clip, T × H/8 × W/8, and the DiT's tokens over it (2×2 patches).
    var latent: (t: Int, h: Int, w: Int, tokens: Int) {
        let s = GenerationOptions.parseSize(size)!
        let (t, h, w) = ((frames - 1) / 4 + 1, s.height / 8, s.width / 8)
        return (t, h, w, t * (h / 2) * (w / 2))
    }

    /// Seeded inputs: x [C, T, H/8, W/8] and 32 text rows.
    func inputs(_ config: WanDiTConfig) throws -> (x: Tensor, context: Tensor) {
        let (t, h, w, _) = latent
        var rng = SplitMixInputs(seed: seed ^ 0xABCD)
        let x = try Tensor.host(rng.values(config.inChannels * t * h * w), shape: [config.inChannels, t, h, w])
        let context = try Tensor.host(rng.values(32 * config.textDim), shape: [32, config.textDim])
        return (x, context)
    }

    /// The DiT on `backend` from `weights` (SLA's projections unused under dense attention), synchronized.
    func loadDiT(_ weights: [NamedTensor], config: WanDiTConfig, on backend: any Backend,
                 residency: WeightResidency = .resident) throws -> WanDiT {
        let store = WeightStore(weights, source: "seeded \(preset.rawValue)", backend: backend, matrixType: dtype.dtype,
                                linearMode: quantLinear ? .w8a8 : .dense)
        if case .original = attention {
            store.ignore(where: { $0.contains(".attn_op.local_attn.proj_l.") }, note: "SLA projections unused with dense attention")
        }
        let model = try WanDiT(store, config: config, attention: attention, blockResidency: residency)
        try backend.synchronize()
        return model
    }
}
