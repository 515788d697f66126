import Testing
import TensorCore
import BackendCPU
import Models
@testable import Pipeline

/// Stage planning, expert switching, tiling and cancellation, with small stand-in components
/// (the end-to-end tests with real model files live with the CLI).
@Suite struct VideoGeneratorTests {
    final class Log { var events: [String] = [] }

    final class FakeEncoder: PromptEncoder {
        let log: Log
        let backend: any Backend = CPUBackend()
        init(_ log: Log) { self.log = log }
        func encode(_ prompt: String) throws -> Tensor {
            log.events.append("encode \(prompt)")
            return try Tensor.host([Float](repeating: 0.5, count: 3 * 4), shape: [3, 4])
        }
    }

    /// decode: every pixel of frame f takes latent channel 0 of frame ⌈f/4⌉ at its 8×8 block.
    final class FakeVAE: VideoAutoencoder {
        let log: Log
        let backend: any Backend = CPUBackend()
        init(_ log: Log) { self.log = log }
        func decode(_ z: Tensor, tiling: VAETiling? = nil, streaming: VAEStreaming = .reference) throws -> Tensor {
            try refuseTiling(tiling, decoding: true)
            log.events.append("decode")
            let (t, h, w) = (z.shape[1], z.shape[2], z.shape[3])
            let v = try z.floats(), f = 4 * (t - 1) + 1
            var out = [Float](repeating: 0, count: 3 * f * h * 8 * w * 8)
            for c in 0..<3 { for fr in 0..<f { for y in 0..<(h * 8) { for x in 0..<(w * 8) {
                out[((c * f + fr) * h * 8 + y) * w * 8 + x] = v[((fr + 3) / 4 * h + y / 8) * w + x / 8]
            } } } }
            return try Tensor.host(out, shape: [3, f, h * 8, w * 8])
        }
        func encode(_ video: Tensor, tiling: VAETiling? = nil) throws -> Tensor {
            try refuseTiling(tiling, decoding: false)
            log.events.append("encode image")
            let (f, h, w) = (video.shape[1], video.shape[2], video.shape[3])
            return try Tensor.host([Float](repeating: 0.25, count: 16 * (1 + (f - 1) / 4) * (h / 8) * (w / 8)),
                                   shape: [16, 1 + (f - 1) / 4, h / 8, w / 8])
        }
    }

    final class FakeDiT: VelocityModel {
        let name: String, inChannels: Int, log: Log
        let backend: any Backend = CPUBackend()
        init(_ name: String, channels: Int, _ log: Log) { (self.name, inChannels, self.log) = (name, channels, log) }
        func velocity(x: Tensor, timestep: Double, context: Tensor) throws -> Tensor {
            #expect(x.shape[0] == inChannels && context.shape == [3, 4])
            log.events.append("\(name) \(Int(timestep))")
            let n = 16 * x.shape.dropFirst().reduce(1, *)
            return try Tensor.host(Array(try x.floats().prefix(n)).map { $0 * 0.9 }, shape: [16] + x.shape.dropFirst())
        }
    }

    func generator(_ log: Log, experts: [String], channels: Int) -> VideoGenerator {
        VideoGenerator(
            textEncoder: Component("text") { log.events.append("load text"); return FakeEncoder(log) },
            vae: Component("vae") { log.events.append("load vae"); return FakeVAE(log) },
            experts: experts.map { name in Component(name) { log.events.append("load \(name)"); return FakeDiT(name, channels: channels, log) } })
    }

    @Test func textToVideoRunsStagesInOrderAndTilesSamples() throws {
        let log = Log()
        var r = GenerationRequest(prompt: "a red ball")
        (r.size, r.frames, r.samples, r.steps) = (VideoSize(width: 32, height: 16), 5, 2, 2)
        var stages: [GenerationStage] = []
        let video = try generator(log, experts: ["dit"], channels: 16).generate(r) { p in
            if p.stageFinished { stages.append(p.stage) }
            return .proceed
        }
        #expect(log.events == ["load text", "encode a red ball", "load dit", "dit 988", "dit 988", "dit 932", "dit 932",
                               "load vae", "decode", "decode"])
        #expect(stages == [.loadTextEncoder, .encodeText, .loadDiT, .denoise, .loadVAE, .decode])
        #expect(video.frames.count == 5 && video.width == 64 && video.height == 16 && video.frames[0].count == 64 * 16 * 3)
        // The two samples start from different noise, so their halves differ.
        let row = video.frames[4].prefix(64 * 3)
        #expect(Array(row.prefix(32 * 3)) != Array(row.suffix(32 * 3)))
    }

    @Test func imageToVideoSwitchesExpertsAtTheBoundary() throws {
        let log = Log()
        var r = GenerationRequest(prompt: "p")
        (r.size, r.frames, r.steps, r.sigmaMax) = (VideoSize(width: 16, height: 16), 5, 4, 200)
        r.image = [UInt8](repeating: 200, count: 20 * 10 * 3)
        r.imageSize = VideoSize(width: 20, height: 10)
        _ = try generator(log, experts: ["high", "low"], channels: 36).generate(r)
        #expect(log.events == ["load text", "encode p", "load vae", "encode image", "load high", "high 996", "high 932",
                               "load low", "low 852", "low 608", "load vae", "decode"])
    }

    @Test func wrongModelKindIsNamed() {
        var r = GenerationRequest(prompt: "p")
        (r.size, r.frames, r.steps) = (VideoSize(width: 16, height: 16), 1, 1)
        let e = #expect(throws: PipelineError.self) { try generator(Log(), experts: ["i2v"], channels: 36).generate(r) }
        #expect("\(e!)".contains("16 input channels") && "\(e!)".contains("use i2v"))
    }

    @Test func cancellationStopsDuringDenoising() {
        let log = Log()
        var r = GenerationRequest(prompt: "p")
        (r.size, r.frames, r.steps) = (VideoSize(width: 16, height: 16), 1, 4)
        #expect(throws: GenerationCancelled.self) {
            try generator(log, experts: ["dit"], channels: 16).generate(r) { $0.stage == .denoise && $0.step == 2 ? .cancel : .proceed }
        }
        #expect(log.events.filter { $0.hasPrefix("dit") }.count == 2 && !log.events.contains("decode"))
    }

    @Test func invalidRequestsSayWhatToChange() {
        var r = GenerationRequest(prompt: "p")
        r.steps = 8
        #expect(r.problem?.contains("--num_steps") == true)
        r.steps = 4
        r.frames = 80
        #expect(r.problem?.contains("4n+1") == true)
    }
}
