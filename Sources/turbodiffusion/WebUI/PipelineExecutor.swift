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
import Pipeline
import TurboDiffusionServer

/// Runs web UI jobs through the same code as `t2v`/`i2v --serve`: a job becomes the command's
/// flags, parsed and validated by the command itself, and its generator is kept (models resident)
/// while the next job needs the same models and settings; a job that needs others releases it first.
final class PipelineExecutor: JobExecutor, @unchecked Sendable {
    /// Flags every job gets (--device and the placement flags of `webui`).
    let baseFlags: [String]
    /// Models of the generator in use, and the flags that built it.
    private var loaded: (key: [String], runner: GenerationRunner)?

    init(baseFlags: [String]) { self.baseFlags = baseFlags }

    func models() -> [ModelInfo] {
        func missing(_ paths: [String]) -> [ModelInfo.MissingFile] {
            paths.filter { !FileManager.default.fileExists(atPath: $0) }
                .map { ModelInfo.MissingFile(path: $0, url: ModelCatalog.source(of: $0)) }
        }
        let shared = [ModelCatalog.vaeDefault, ModelCatalog.textEncoderDefault, ModelCatalog.tokenizerDefault]
        var list: [ModelInfo] = []
        for m in [ModelCatalog.T2VModel.wan21_1_3B, .wan21_14B] {
            let gone = missing([ModelCatalog.ditDefault(m, quantized: false)] + shared)
            list.append(ModelInfo(id: m.rawValue, tasks: ["t2v"], available: gone.isEmpty, missing: gone, defaultResolution: "480p"))
        }
        let i2v = missing([ModelCatalog.i2vDefault(noise: "high", quantized: false), ModelCatalog.i2vDefault(noise: "low", quantized: false)] + shared)
        list.append(ModelInfo(id: "Wan2.2-A14B", tasks: ["i2v"], available: i2v.isEmpty, missing: i2v, defaultResolution: "720p"))
        if let demo = try? DemoModel.load() {
            let gone = missing([demo.t2v, demo.i2v, demo.vae, demo.textEncoder, demo.tokenizer])
            list.append(ModelInfo(id: "demo", tasks: ["t2v", "i2v"], available: gone.isEmpty, missing: gone,
                                  defaultSize: "\(demo.size.width)x\(demo.size.height)", defaultFrames: demo.frames))
        } else {
            list.append(ModelInfo(id: "demo", tasks: ["t2v", "i2v"], available: false,
                                  missing: [.init(path: DemoModel.locate() + "/demo.json", url: nil)], defaultFrames: 17))
        }
        return list
    }

    /// The flags that decide which models load and how (a change means a new generator).
    static func modelFlags(_ r: JobRequest) -> [String] {
        var f = [r.task, "--model", r.model, "--attention_type", r.attentionType]
        if let k = r.slaTopk { f += ["--sla_topk", "\(k)"] }
        if r.quantLinear { f.append("--quant_linear") }
        return f
    }

    /// The flags of one generation.
    static func jobFlags(_ r: JobRequest) -> [String] {
        var f = ["--prompt", r.prompt, "--num_steps", "\(r.numSteps)", "--seed", "\(r.seed)", "--aspect_ratio", r.aspectRatio,
                 "--num_samples", "\(r.numSamples)"]
        if let v = r.resolution { f += ["--resolution", v] }
        if let v = r.size { f += ["--size", v] }
        if let v = r.numFrames { f += ["--num_frames", "\(v)"] }
        if let v = r.sigmaMax { f += ["--sigma_max", "\(v)"] }
        if r.ode { f.append("--ode") }
        if r.task == "i2v" {
            f += ["--boundary", "\(r.boundary)"]
            if r.adaptiveResolution { f.append("--adaptive_resolution") }
        }
        return f
    }

    func run(_ job: JobRequest, image: RGBImage?, outputPath: String, framesDirectory: String?,
             progress: @escaping ProgressHandler) throws {
        let key = Self.modelFlags(job) + baseFlags
        // --serve: models stay resident, and an I2V image may come from elsewhere than --image_path.
        let flags = Array(key.dropFirst()) + ["--serve"] + Self.jobFlags(job)
        let runner: GenerationRunner
        if let loaded, loaded.key == key {
            runner = loaded.runner
        } else {
            if let old = loaded {
                logLine("models change (\(old.key.joined(separator: " ")) -> \(key.joined(separator: " "))): releasing the loaded ones")
                _ = release()
            }
            let generatorFlags = Array(key.dropFirst()) + ["--serve"]
            runner = job.task == "t2v" ? try Self.parseCommand(T2VCommand.self, generatorFlags).makeRunner(interruptible: false)
                                       : try Self.parseCommand(I2VCommand.self, generatorFlags).makeRunner(interruptible: false)
            loaded = (key, runner)
        }
        // The job's own flags go through the command's parser and checks, then the demo's defaults.
        let request: GenerationRequest
        if job.task == "t2v" {
            let command = try Self.parseCommand(T2VCommand.self, flags)
            let options = try command.model == "demo" ? DemoModel.load().apply(to: command.options) : command.options
            request = T2VCommand.request(options, prompt: job.prompt)
        } else {
            let command = try Self.parseCommand(I2VCommand.self, flags)
            let options = try command.model == "demo" ? DemoModel.load().apply(to: command.options) : command.options
            let first = try image ?? ImageDecoder.decode(path: DemoModel.load().sampleImage)
            request = I2VCommand.request(options, prompt: job.prompt, image: first, boundary: command.boundary,
                                         adaptive: command.adaptiveResolution)
        }
        if let problem = request.problem { throw GenerationCommandError(problem) }
        try runner.run(request, savePath: outputPath, framesDir: framesDirectory, observer: progress)
    }

    /// Parses and validates like the command line, with the parser's message as the error.
    static func parseCommand<C: ParsableCommand>(_ type: C.Type, _ flags: [String]) throws -> C {
        do {
            var c = try C.parseAsRoot(flags)
            try c.validate()
            guard let command = c as? C else { throw GenerationCommandError("internal: \(type) did not parse") }
            return command
        } catch let e as GenerationCommandError {
            throw e
        } catch {
            throw GenerationCommandError(C.message(for: error))
        }
    }

    func release() -> String {
        guard let old = loaded else { return "no models were loaded" }
        old.runner.generator.releaseAll()
        loaded = nil
        var said = "released the models of \(old.key.prefix(3).joined(separator: " "))"
        for cuda in DeviceChoice.openedCUDA {
            do {
                try cuda.emptyCache()
                said += String(printf: "; %@ holds %.2f GiB", "\(cuda.device)", Double(cuda.memoryStatistics.live) / 1_073_741_824)
            } catch {
                said += "; emptying the CUDA cache failed: \(error)"
            }
        }
        return said
    }
}
