import ArgumentParser
import BackendCPU
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Models
import Pipeline
import TensorCore

/// `turbodiffusion t2v`: text to video with a TurboDiffusion Wan2.1 model (docs/pipeline.md).
struct T2VCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t2v",
        abstract: "Generate a video from a text prompt (Wan2.1 T2V, 1–4 rCM steps).",
        discussion: """
            Stages: encode the prompt with umT5-XXL, run the distilled DiT for --num_steps steps, decode \
            with the Wan2.1 VAE, write an H.264 MP4 (16 fps). Each model is loaded for its stage and \
            released after it, unless --serve keeps them resident. Ctrl-C stops at the next step and \
            writes nothing.
            """
    )

    @Option(help: "Model: Wan2.1-1.3B, Wan2.1-14B, or demo (tiny models trained here, in models/demo: runs in seconds on a CPU).")
    var model = ModelCatalog.T2VModel.wan21_1_3B.rawValue

    @Option(name: [.customLong("dit_path"), .customLong("dit-path")],
            help: "TurboDiffusion DiT checkpoint (default: checkpoints/TurboWan2.1-T2V-<size>-480P[-quant].pth).")
    var ditPath: String?

    @OptionGroup var options: GenerationOptions

    func validate() throws {
        guard ModelCatalog.T2VModel(rawValue: model) != nil else {
            throw ValidationError("--model must be \(ModelCatalog.T2VModel.allCases.map(\.rawValue).joined(separator: " or ")), got '\(model)' (image-to-video: turbodiffusion i2v)")
        }
    }

    func run() throws {
        try GenerationCommand.guarded {
            let runner = try makeRunner()
            let options = runner.options
            if options.serve {
                try InteractiveSession(runner: runner, imageToVideo: false).run()
            } else {
                print(try runner.run(Self.request(options, prompt: options.prompt!), savePath: options.savePath))
            }
        }
    }

    /// The generator (models load on first use; resident with --serve) and its runner, whose
    /// options have the demo's files and sizes filled in for `--model demo`.
    func makeRunner(interruptible: Bool = true) throws -> GenerationRunner {
        let m = ModelCatalog.T2VModel(rawValue: model)!
        let demo = m == .demo ? try DemoModel.load() : nil
        if let demo { logLine("demo models: \(demo.directory)") }
        let options = demo?.apply(to: self.options) ?? self.options
        let dit = ditPath ?? demo.map { options.quantLinear ? $0.t2vQuantized : $0.t2v }
            ?? ModelCatalog.ditDefault(m, quantized: options.quantLinear, resolution: options.resolution.flatMap(Resolution.init) ?? .p480)
        let flag = ditPath == nil ? "--dit_path (or --model)" : "--dit_path"
        try ModelCatalog.requireFile(dit, flag: flag, what: "DiT checkpoint")
        let preset: WanDiTConfig? = switch m {
        case .wan21_1_3B: .wan21T2V1_3B
        case .wan21_14B: .wan21T2V14B
        case .demo: nil
        }
        let models = MemoryPlanning.Models(ditPath: dit, ditConfig: demo?.dit,
                                           attention: demo?.attention(options) ?? options.attention(), experts: 1)
        let session = try GenerationCommand.makeGenerator(options: options, demo: demo, models: models, interruptible: interruptible) { backend in
            [Component("DiT", resident: options.serve, planned: { plan in
                try ComponentFactory.dit(path: dit, flag: flag, options: options, backend: backend, expected: preset,
                                         config: demo?.dit, attention: demo?.attention(options),
                                         blockResidency: plan?.dit == .streamed ? .streamed : .resident)
            })]
        }
        return GenerationRunner(generator: session, options: options, task: "t2v", modelName: model)
    }

    /// The request of `options` (demo defaults already applied).
    static func request(_ options: GenerationOptions, prompt: String) -> GenerationRequest {
        GenerationCommand.request(options, prompt: prompt, defaultSigma: 80, size: options.size(defaultResolution: .p480))
    }
}

/// Pieces shared by t2v and i2v.
enum GenerationCommand {
    /// Checks the shared files, then builds a generator whose components load on first use.
    /// `interruptible`: Ctrl-C / SIGTERM stop the generation (the web UI handles signals itself).
    static func makeGenerator(options: GenerationOptions, demo: DemoModel? = nil, models: MemoryPlanning.Models, interruptible: Bool = true,
                              experts: (any TensorCore.Backend) throws -> [Component<any VelocityModel>]) throws -> VideoGenerator {
        try ModelCatalog.requireFile(options.vaePath, flag: "--vae_path", what: "Wan2.1 VAE")
        try ModelCatalog.requireFile(options.textEncoderPath, flag: "--text_encoder_path", what: "umT5-XXL text encoder")
        _ = try ComponentFactory.tokenizerLocation(options)
        if interruptible { ProgressPrinter.installInterruptHandler() }
        let placement = try options.placement()
        let generator = VideoGenerator(
            textEncoder: Component("text encoder", resident: options.serve, planned: { plan in
                // The plan moves umT5 to the CPU when it does not fit beside nothing on the device.
                try ComponentFactory.textEncoder(options, backend: plan?.textEncoder == .host ? CPUBackend() : placement.textEncoder)
            }),
            vae: Component("VAE", resident: options.serve) {
                try ComponentFactory.vae(options, backend: placement.vae, statistics: demo.map { ($0.vaeMean, $0.vaeStd) })
            },
            experts: try experts(placement.dit))
        generator.planner = MemoryPlanning.planner(options: options, placement: placement, models: models)
        return generator
    }

    static func request(_ o: GenerationOptions, prompt: String, defaultSigma: Double, size: VideoSize) -> GenerationRequest {
        var r = GenerationRequest(prompt: prompt)
        r.size = size
        r.frames = o.frames
        r.samples = o.numSamples
        r.steps = o.numSteps
        r.sigmaMax = o.sigmaMax ?? defaultSigma
        r.ode = o.ode
        r.seed = o.seed
        return r
    }

    /// Runs `body`, turning errors into one clear line and an exit status (cancelled: 130).
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as ValidationError {
            throw e
        } catch let e as GenerationCancelled {
            logLine("\(e); nothing was written")
            throw ExitCode(130)
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}
