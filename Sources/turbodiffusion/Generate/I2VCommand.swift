import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Media
import Models
import Pipeline

/// `turbodiffusion i2v`: image to video with the TurboDiffusion Wan2.2-I2V-A14B experts (docs/pipeline.md).
struct I2VCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "i2v",
        abstract: "Generate a video that starts from an image (Wan2.2-I2V-A14B, high/low-noise experts).",
        discussion: """
            The image (PNG or JPEG) is resized to the output size (or the size is adapted to its \
            aspect ratio with --adaptive_resolution), VAE-encoded as the first frame, and the \
            high-noise expert denoises while r ≥ --boundary, the low-noise one after.
            """
    )

    @Option(help: "Model: Wan2.2-A14B, or demo (tiny models trained here, in models/demo; the sample image is the default).")
    var model = "Wan2.2-A14B"

    @Option(name: [.customLong("image_path"), .customLong("image-path")], help: "The first frame (PNG or JPEG); asked for in --serve.")
    var imagePath: String?

    @Option(name: [.customLong("high_noise_model_path"), .customLong("high-noise-model-path")],
            help: "High-noise expert (default: checkpoints/TurboWan2.2-I2V-A14B-high-720P[-quant].pth).")
    var highNoisePath: String?

    @Option(name: [.customLong("low_noise_model_path"), .customLong("low-noise-model-path")],
            help: "Low-noise expert (default: checkpoints/TurboWan2.2-I2V-A14B-low-720P[-quant].pth).")
    var lowNoisePath: String?

    @Option(help: "Switch from the high- to the low-noise expert when r falls below this, in [0, 1].")
    var boundary = 0.9

    @Flag(name: [.customLong("adaptive_resolution"), .customLong("adaptive-resolution")],
          help: "Keep the area of --resolution/--aspect_ratio but follow the image's aspect ratio.")
    var adaptiveResolution = false

    @OptionGroup var options: GenerationOptions

    func validate() throws {
        guard model == "Wan2.2-A14B" || model == "demo" else {
            throw ValidationError("--model must be Wan2.2-A14B or demo, got '\(model)' (text-to-video: turbodiffusion t2v)")
        }
        guard boundary >= 0, boundary <= 1 else { throw ValidationError("--boundary must lie in [0, 1], got \(boundary)") }
        if imagePath == nil && !options.serve && model != "demo" { throw ValidationError("give --image_path (PNG or JPEG) for the first frame") }
        if let p = imagePath, !FileManager.default.fileExists(atPath: p) { throw ValidationError("--image_path \(p) does not exist") }
    }

    func run() throws {
        try GenerationCommand.guarded {
            let runner = try makeRunner()
            let imagePath = try self.imagePath ?? (model == "demo" ? DemoModel.load().sampleImage : nil)
            if runner.options.serve {
                try InteractiveSession(runner: runner, imageToVideo: true, boundary: boundary,
                                       adaptiveResolution: adaptiveResolution, imagePath: imagePath).run()
            } else {
                let image = try ImageDecoder.decode(path: imagePath!)
                print(try runner.run(Self.request(runner.options, prompt: runner.options.prompt!, image: image, boundary: boundary,
                                                  adaptive: adaptiveResolution), savePath: runner.options.savePath))
            }
        }
    }

    /// The generator with both experts (models load on first use; resident with --serve) and its
    /// runner, whose options have the demo's files and sizes filled in for `--model demo`.
    func makeRunner(interruptible: Bool = true) throws -> GenerationRunner {
        // The demo ships one I2V model that serves as both experts.
        let demo = model == "demo" ? try DemoModel.load() : nil
        if let demo { logLine("demo models: \(demo.directory)") }
        let options = demo?.apply(to: self.options) ?? self.options
        let high = highNoisePath ?? demo?.i2v ?? ModelCatalog.i2vDefault(noise: "high", quantized: options.quantLinear)
        let low = lowNoisePath ?? demo?.i2v ?? ModelCatalog.i2vDefault(noise: "low", quantized: options.quantLinear)
        try ModelCatalog.requireFile(high, flag: "--high_noise_model_path", what: "high-noise DiT checkpoint")
        try ModelCatalog.requireFile(low, flag: "--low_noise_model_path", what: "low-noise DiT checkpoint")
        let i2vConfig = demo?.dit
        let models = MemoryPlanning.Models(ditPath: high, ditConfig: i2vConfig,
                                           attention: demo?.attention(options) ?? options.attention(), experts: 2)
        let generator = try GenerationCommand.makeGenerator(options: options, demo: demo, models: models, interruptible: interruptible) { backend in
            [("--high_noise_model_path", high), ("--low_noise_model_path", low)].map { flag, path in
                Component("DiT \(path)", resident: options.serve, planned: { plan in
                    try ComponentFactory.dit(path: path, flag: flag, options: options, backend: backend,
                                             expected: demo == nil ? .wan22I2VA14B : nil, config: i2vConfig,
                                             attention: demo?.attention(options),
                                             blockResidency: plan?.dit == .streamed ? .streamed : .resident)
                })
            }
        }
        return GenerationRunner(generator: generator, options: options, task: "i2v", modelName: model)
    }

    static func request(_ o: GenerationOptions, prompt: String, image: RGBImage, boundary: Double, adaptive: Bool) -> GenerationRequest {
        var size = o.size(defaultResolution: .p720)
        if adaptive {
            size = VideoGeometry.adaptive(area: size, imageWidth: image.width, imageHeight: image.height)
            logLine("adaptive resolution: \(image.width)×\(image.height) image -> \(size) video")
        }
        var r = GenerationCommand.request(o, prompt: prompt, defaultSigma: 200, size: size)
        r.image = image.pixels
        r.imageSize = VideoSize(width: image.width, height: image.height)
        r.boundary = boundary
        return r
    }
}
