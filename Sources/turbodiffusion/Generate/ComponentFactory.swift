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
import Tokenizer

/// Builds the pipeline's components from checkpoint files, loudly: each says what it loaded.
enum ComponentFactory {
    /// Opens a checkpoint and checks it holds the expected kind of model.
    static func open(_ path: String, flag: String, what: String, kinds: Set<ModelKind>) throws -> Checkpoint {
        try ModelCatalog.requireFile(path, flag: flag, what: what)
        let ckpt = try Checkpoint.open(path: path)
        guard kinds.contains(ckpt.recognition.kind) else {
            throw GenerationCommandError("\(path) is not a \(what): it looks like \(ckpt.recognition.kind) (\(ckpt.recognition.summary)); check \(flag)")
        }
        return ckpt
    }

    /// `config`: what the weights cannot tell (the demo's head count), else a config.json in a
    /// model folder; `attention`: overrides the flags' (the demo's block sizes).
    static func dit(path: String, flag: String, options: GenerationOptions, backend: any Backend,
                    expected preset: WanDiTConfig?, config given: ModelConfigFile? = nil,
                    attention: SelfAttentionKind? = nil, blockResidency: WeightResidency = .resident) throws -> any VelocityModel {
        let ckpt = try open(path, flag: flag, what: "Wan DiT checkpoint", kinds: [.wanDiT, .turboDiT])
        let tensors = ckpt.unprefixedTensors
        var config = try WanDiTConfig.resolve(tensors: tensors, config: given ?? ModelConfigFile.find(for: path))
        let attention = attention ?? options.attention()
        config.textLength = UMT5PromptEncoder.textLength   // the prompt encoder pads to this
        if let preset, preset.dim != config.dim || preset.numLayers != config.numLayers || preset.inChannels != config.inChannels {
            logLine("note: \(path) holds a model of width \(config.dim), \(config.numLayers) layers, \(config.inChannels) input channels; --model named one of width \(preset.dim), \(preset.numLayers) layers: using the file's architecture")
        }
        let dtype = options.dtype.dtype
        func load(_ backend: any Backend) throws -> DiTVelocityModel {
            let store = WeightStore(tensors, source: path, backend: backend, matrixType: dtype,
                                    linearMode: options.quantLinear ? .w8a8 : .dense)
            if store.isQuantized && !options.quantLinear {
                logLine("note: \(path) is W8A8-quantized; without --quant_linear its weights are dequantized (add --quant_linear to run it as stored)")
            } else if !store.isQuantized && options.quantLinear {
                logLine("note: \(path) is not quantized; --quant_linear quantizes its block Linears while loading")
            }
            let (start, uploaded) = (Date(), (backend as? CUDABackend)?.uploadedBytes)
            let model = try WanDiT(store, config: config, attention: attention, blockResidency: blockResidency)
            try backend.synchronize()
            let seconds = Date().timeIntervalSince(start)
            logLine(String(printf: "loaded %@ on %@ in %.1f s%@: %@, self-attention %@%@", path, "\(backend.device)", seconds,
                           MemoryPlanning.transferRate(backend, since: uploaded, seconds: seconds), "\(config)", "\(attention)",
                           blockResidency == .streamed ? "; blocks streamed from host memory" : ""))
            for note in model.loadNotes { logLine("note: \(note)") }
            return DiTVelocityModel(model, context: ComputeContext(backend: backend, dtype: dtype))
        }
        if options.gpus > 1 { return try ParallelDiT.model(options, rank0: backend, config: config, load: load) }
        return try load(backend)
    }
}

/// The Wan VAE as the pipeline's autoencoder.
final class WanVAECodec: VideoAutoencoder {
    let vae: WanVAE
    let context: ComputeContext
    var backend: any Backend { context.backend }
    init(_ vae: WanVAE, context: ComputeContext) {
        self.vae = vae
        self.context = context
    }
    func decode(_ z: Tensor, tiling: VAETiling? = nil, streaming: VAEStreaming = .reference) throws -> Tensor {
        try vae.decode(z, context, streaming: streaming, tiling: tiling)
    }
    func encode(_ video: Tensor, tiling: VAETiling? = nil) throws -> Tensor { try vae.encode(video, context, tiling: tiling) }
}

extension ComponentFactory {
    /// `statistics`: the latent mean/std of a VAE other than the released one (the demo's).
    static func vae(_ options: GenerationOptions, backend: any Backend,
                    statistics: (mean: [Double], std: [Double])? = nil) throws -> WanVAECodec {
        let ckpt = try open(options.vaePath, flag: "--vae_path", what: "Wan2.1 VAE", kinds: [.wanVAE])
        let tensors = ckpt.unprefixedTensors
        var config = try WanVAEConfig.resolve(tensors: tensors, config: ModelConfigFile.find(for: options.vaePath))
        if let statistics { (config.mean, config.std) = statistics }
        // On the CPU the VAE runs in fp32 (its checkpoint's type). On a GPU it runs as the reference
        // stack does there: bf16 weights and convolution operands, f32 accumulation and norms
        // (relative L2 to fp32 ≤ 1.3e-2 on the parity fixtures; --vae_dtype f32 keeps fp32).
        let dtype = options.vaeDtype?.dtype ?? (backend is CPUBackend ? .f32 : .bf16)
        let store = WeightStore(tensors, source: options.vaePath, backend: backend, matrixType: dtype)
        let (start, uploaded) = (Date(), (backend as? CUDABackend)?.uploadedBytes)
        let vae = try WanVAE(store, config: config)
        try backend.synchronize()
        let seconds = Date().timeIntervalSince(start)
        logLine(String(printf: "loaded %@ in %.1f s%@: %@, compute %@", options.vaePath, seconds,
                       MemoryPlanning.transferRate(backend, since: uploaded, seconds: seconds), "\(config)", dtype.rawValue))
        return WanVAECodec(vae, context: ComputeContext(backend: backend, dtype: dtype))
    }
}

/// Prompt → Wan text cleaning → umT5 tokens (512, padded) → umT5-XXL encoder, with a prompt cache.
final class UMT5PromptEncoder: PromptEncoder {
    let tokenizer: SentencePieceTokenizer
    let encoder: CachedTextEncoder
    let context: ComputeContext
    var backend: any Backend { context.backend }
    static let textLength = 512

    init(tokenizer: SentencePieceTokenizer, encoder: CachedTextEncoder, context: ComputeContext) {
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.context = context
    }

    func encode(_ prompt: String) throws -> Tensor {
        let tokens = try tokenizer.encode(PromptInput.cleaned(prompt), length: Self.textLength)   // Wan's cleaning, then ids
        if tokens.truncated {
            logLine("warning: the prompt is longer than \(Self.textLength) tokens; \(tokens.droppedPieces) token(s) at its end were cut")
        }
        let sequence = try TokenSequence(ids: tokens.ids.map(Int.init), mask: tokens.attentionMask.map { $0 != 0 })
        let hits = encoder.hits
        let out = try encoder.encode(sequence, context)
        if encoder.hits > hits { logLine("prompt embedding reused from this session") }
        return out
    }
}

extension ComponentFactory {
    static func tokenizerLocation(_ options: GenerationOptions) throws -> String {
        try TokenizerLocation.resolve(options.tokenizerPath)
    }

    static func textEncoder(_ options: GenerationOptions, backend: any Backend) throws -> UMT5PromptEncoder {
        let tokenizer = try TokenizerLocation.load(options.tokenizerPath)
        let ckpt = try open(options.textEncoderPath, flag: "--text_encoder_path", what: "umT5 text encoder", kinds: [.umt5Encoder])
        let tensors = ckpt.unprefixedTensors
        let config = try UMT5Config.resolve(tensors: tensors, config: ModelConfigFile.find(for: options.textEncoderPath))
        guard config.vocabSize >= tokenizer.vocabSize else {
            throw GenerationCommandError("the tokenizer (\(tokenizer.vocabSize) pieces) does not fit the text encoder's \(config.vocabSize)-row embedding; check --tokenizer_path")
        }
        let dtype = options.dtype.dtype
        let store = WeightStore(tensors, source: options.textEncoderPath, backend: backend, matrixType: dtype)
        let (start, uploaded) = (Date(), (backend as? CUDABackend)?.uploadedBytes)
        let encoder = try UMT5Encoder(store, config: config)
        try backend.synchronize()
        let seconds = Date().timeIntervalSince(start)
        logLine(String(printf: "loaded %@ in %.1f s%@: %@; tokenizer %@", options.textEncoderPath, seconds,
                       MemoryPlanning.transferRate(backend, since: uploaded, seconds: seconds), "\(config)", try tokenizerLocation(options)))
        return UMT5PromptEncoder(tokenizer: tokenizer, encoder: CachedTextEncoder(encoder),
                                 context: ComputeContext(backend: backend, dtype: dtype))
    }
}
