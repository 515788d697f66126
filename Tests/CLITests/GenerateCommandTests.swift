import BackendCUDA
import Foundation
import Testing

/// t2v / i2v / --serve end to end on the CPU with tiny random models written in the official file
/// formats (scripts/reference/make_e2e_fixtures.py): the videos are noise, the code paths are the real ones.
@Suite(.serialized) struct GenerateCommandTests {
    static let e2e = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/e2e")
    static func model(_ name: String) -> String { e2e.appendingPathComponent(name).path }

    let scratch: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("td-e2e-\(UInt32.random(in: 0 ... .max))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    var shared: [String] {
        ["--vae_path", Self.model("vae.pth"), "--text_encoder_path", Self.model("t5.pth"),
         "--tokenizer_path", Self.model("tokenizer"), "--size", "32x32", "--num_frames", "5", "--video_writer", "builtin"]
    }

    func t2v(_ extra: [String], save: String) throws -> CLI.Result {
        try CLI.run(["t2v", "--prompt", "A red ball moves left.", "--dit_path", Self.model("dit_t2v.pth"),
                     "--save_path", scratch.appendingPathComponent(save).path] + shared + extra)
    }

    func frames(_ dir: String) throws -> [Data] {
        let d = scratch.appendingPathComponent(dir)
        return try FileManager.default.contentsOfDirectory(atPath: d.path).sorted().map {
            try Data(contentsOf: d.appendingPathComponent($0))
        }
    }

    @Test func textToVideoWritesAPlayableMP4AndIsReproducible() throws {
        let r = try t2v(["--num_steps", "2", "--seed", "7", "--frames_dir", scratch.appendingPathComponent("a").path], save: "a.mp4")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("a.mp4"))
        for stage in ["encode text", "denoise 1/2", "denoise 2/2", "decode", "saved"] { #expect(r.stderr.contains(stage), "\(stage)") }
        if !CUDABackend.isAvailable { #expect(r.stderr.contains("note: computing on the CPU: no usable CUDA device")) }
        let probe = try MP4Probe(path: scratch.appendingPathComponent("a.mp4").path)
        #expect(probe.frames == 5 && probe.width == 32 && probe.height == 32 && probe.fps == 16 && probe.codec == "avc1")

        // Same seed, same frames; another seed, other frames.
        #expect(try t2v(["--num_steps", "2", "--seed", "7", "--frames_dir", scratch.appendingPathComponent("b").path], save: "b.mp4").status == 0)
        #expect(try t2v(["--num_steps", "2", "--seed", "8", "--frames_dir", scratch.appendingPathComponent("c").path], save: "c.mp4").status == 0)
        let (a, b, c) = (try frames("a"), try frames("b"), try frames("c"))
        #expect(a.count == 5 && a == b && a != c)
    }

    @Test func quantizedCheckpointRunsWithAndWithoutTheFlag() throws {
        let base = ["t2v", "--prompt", "x", "--dit_path", Self.model("dit_t2v_quant.pth"), "--num_steps", "1"] + shared
        let with = try CLI.run(base + ["--quant_linear", "--save_path", scratch.appendingPathComponent("q1.mp4").path])
        #expect(with.status == 0, "\(with.stderr)")
        let without = try CLI.run(base + ["--save_path", scratch.appendingPathComponent("q2.mp4").path])
        #expect(without.status == 0 && without.stderr.contains("--quant_linear"))
    }

    @Test func twoSamplesTileSideBySide() throws {
        let r = try t2v(["--num_samples", "2", "--num_steps", "1", "--attention_type", "original"], save: "two.mp4")
        #expect(r.status == 0, "\(r.stderr)")
        let probe = try MP4Probe(path: scratch.appendingPathComponent("two.mp4").path)
        #expect(probe.width == 64 && probe.height == 32 && probe.frames == 5)
    }

    @Test func imageToVideoSwitchesExperts() throws {
        let image = scratch.appendingPathComponent("in.png")
        try Self.writePNG(width: 40, height: 24, to: image)
        let r = try CLI.run(["i2v", "--prompt", "The ball rolls.", "--image_path", image.path,
                             "--high_noise_model_path", Self.model("dit_i2v_high.pth"),
                             "--low_noise_model_path", Self.model("dit_i2v_low.pth"),
                             "--save_path", scratch.appendingPathComponent("i2v.mp4").path] + shared)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("dit_i2v_high.pth") && r.stderr.contains("dit_i2v_low.pth") && r.stderr.contains("denoise 4/4"))
        #expect(try MP4Probe(path: scratch.appendingPathComponent("i2v.mp4").path).frames == 5)
    }

    @Test func badInputsSayWhatToDoAndWriteNothing() throws {
        let out = scratch.appendingPathComponent("never.mp4")
        let missing = try CLI.run(["t2v", "--prompt", "x", "--save_path", out.path, "--vae_path", Self.model("vae.pth"),
                                   "--text_encoder_path", Self.model("t5.pth"), "--tokenizer_path", Self.model("tokenizer")])
        #expect(missing.status != 0 && missing.stderr.contains("TurboWan2.1-T2V-1.3B-480P.pth")
                && missing.stderr.contains("huggingface.co/TurboDiffusion") && missing.stderr.contains("`turbodiffusion download Wan2.1-1.3B`"))
        // The 14B model at 720p reads the 720P checkpoint by default, and the message says how to get it.
        let missing720 = try CLI.run(["t2v", "--prompt", "x", "--model", "Wan2.1-14B", "--resolution", "720p", "--quant_linear",
                                      "--save_path", out.path, "--vae_path", Self.model("vae.pth"),
                                      "--text_encoder_path", Self.model("t5.pth"), "--tokenizer_path", Self.model("tokenizer")])
        #expect(missing720.status != 0 && missing720.stderr.contains("checkpoints/TurboWan2.1-T2V-14B-720P-quant.pth")
                && missing720.stderr.contains("`turbodiffusion download Wan2.1-14B --quant --resolution 720p`"), "\(missing720.stderr)")
        let frames = try t2v(["--num_frames", "8"], save: "never.mp4")
        #expect(frames.status != 0 && frames.stderr.contains("4n+1"))
        if !CUDABackend.isAvailable {
            // Without a GPU, --device cuda refuses with the reason; --device auto (the default) says it uses the CPU.
            let cuda = try t2v(["--device", "cuda"], save: "never.mp4")
            #expect(cuda.status != 0 && cuda.stderr.contains("CUDA is not available") && cuda.stderr.contains("--device cpu"))
        }
        let steps = try t2v(["--num_steps", "6"], save: "never.mp4")
        #expect(steps.status != 0 && steps.stderr.contains("--num_steps"))
        let wrongModel = try CLI.run(["t2v", "--prompt", "x", "--dit_path", Self.model("vae.pth"),
                                      "--save_path", out.path] + shared)
        #expect(wrongModel.status != 0 && wrongModel.stderr.contains("not a Wan DiT checkpoint"))
        let notImage = scratch.appendingPathComponent("bad.png")
        try Data("not an image".utf8).write(to: notImage)
        let badImage = try CLI.run(["i2v", "--prompt", "x", "--image_path", notImage.path,
                                    "--high_noise_model_path", Self.model("dit_i2v_high.pth"),
                                    "--low_noise_model_path", Self.model("dit_i2v_low.pth"), "--save_path", out.path] + shared)
        #expect(badImage.status != 0 && badImage.stderr.contains("bad.png"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains("never") }
        #expect(leftovers.isEmpty)
    }

    /// SIGTERM (as a service manager sends) stops the generation at its next step: a clear line,
    /// exit status 130, and nothing in the output folder, temporary files included.
    @Test func sigtermStopsTheGenerationAndWritesNothing() throws {
        let binary = try #require(CLI.binary, "the turbodiffusion executable was not found next to the test bundle")
        let folder = scratch.appendingPathComponent("sigterm")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = binary
        p.arguments = ["t2v", "--prompt", "A red ball moves left.", "--dit_path", Self.model("dit_t2v.pth"), "--num_steps", "4",
                       "--save_path", folder.appendingPathComponent("v.mp4").path] + shared
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Signal once the generation has begun (the handler is installed before its first stage).
        var log = Data()
        while !String(decoding: log, as: UTF8.self).contains("load text encoder") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log.append(chunk)
        }
        kill(p.processIdentifier, SIGTERM)
        log.append(err.fileHandleForReading.readDataToEndOfFile())
        p.waitUntilExit()
        let text = String(decoding: log, as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(p.terminationReason) \(p.terminationStatus): \(text)")
        #expect(text.contains("cancelled") && text.contains("nothing was written"), "\(text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func interactiveSessionKeepsModelsLoaded() throws {
        let script = """
            /set num_steps 1
            /set num_steps 9
            /show
            a blue square \\
            moves right
            a green star
            /set seed 3
            /set size 48x32
            a green star
            /quit

            """
        let r = try CLI.run(["t2v", "--serve", "--dit_path", Self.model("dit_t2v.pth")] + shared, stdin: script, directory: scratch)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("num_steps = 1") && r.stdout.contains("num_steps: expected 1, 2, 3 or 4"))
        #expect(r.stdout.components(separatedBy: "saved outputs/t2v_").count == 4)
        // Loaded once, used three times; the prompt seen twice is encoded once.
        #expect(r.stderr.components(separatedBy: "loaded \(Self.model("dit_t2v.pth"))").count == 2)
        #expect(r.stderr.contains("prompt embedding reused"))
        let outputs = try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("outputs").path)
        let videos = outputs.filter { $0.hasSuffix(".mp4") && $0.hasPrefix("t2v_") && $0.contains("Wan2_1_1_3B") }
        #expect(videos.count == 3)
        let sizes = try videos.map { try MP4Probe(path: scratch.appendingPathComponent("outputs/\($0)").path).width }
        #expect(sizes.sorted() == [32, 32, 48])
    }

    @Test func serveImageToVideoAsksForTheImage() throws {
        let image = scratch.appendingPathComponent("first.png")
        try Self.writePNG(width: 16, height: 16, to: image)
        let script = "a cat walks\n\(scratch.appendingPathComponent("missing.png").path)\n\(image.path)\n/set num_steps 1\n/show\n/quit\n"
        let r = try CLI.run(["serve", "i2v", "--high_noise_model_path", Self.model("dit_i2v_high.pth"),
                             "--low_noise_model_path", Self.model("dit_i2v_low.pth")] + shared, stdin: script, directory: scratch)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("image path> ") && r.stdout.contains("no such file") && r.stdout.contains("saved outputs/i2v_0_Wan2_2_A14B_"))
        #expect(r.stdout.contains("image = \(image.path)") && r.stdout.contains("boundary = 0.9"))
    }

    /// `--model demo` reads models/demo (relative to the working directory, else beside the
    /// executable, else in the source tree): here a stand-in built from the tiny random models, to
    /// check the plumbing; the trained demo has its own tests.
    @Test func demoModelFolderSuppliesFilesAndSizes() throws {
        let demo = scratch.appendingPathComponent("models/demo")
        try FileManager.default.createDirectory(at: demo, withIntermediateDirectories: true)
        for (from, to) in [("dit_t2v.pth", "dit_t2v.pth"), ("dit_t2v_quant.pth", "dit_t2v_quant.pth"), ("dit_i2v_high.pth", "dit_i2v.pth"),
                           ("vae.pth", "vae.pth"), ("t5.pth", "t5.pth"), ("tokenizer/spiece.model", "spiece.model")] {
            try FileManager.default.copyItem(atPath: Self.model(from), toPath: demo.appendingPathComponent(to).path)
        }
        try Self.writePNG(width: 48, height: 48, to: demo.appendingPathComponent("sample_i2v.png"))
        let stats = (0..<16).map { _ in "0.5" }.joined(separator: ", ")
        func describe(heads: Int, textDim: Int = 64) throws {
            try Data("""
                {"dit": {"dim": 128, "ffn_dim": 256, "num_heads": \(heads), "num_layers": 2, "text_dim": \(textDim)},
                 "vae": {"dim": 8, "z_dim": 16, "latent_mean": [\(stats)], "latent_std": [\(stats)]},
                 "size": [48, 32], "frames": 9, "sla_topk": 0.5, "sla_block_q": 8, "sla_block_k": 8}
                """.utf8).write(to: demo.appendingPathComponent("demo.json"))
        }
        let arguments = ["t2v", "--model", "demo", "--prompt", "a red ball", "--num_steps", "1", "--attention_type", "sla",
                         "--video_writer", "builtin"]
        // The head count comes from demo.json: a wrong one meets strict loading (proj_l is [head_dim, head_dim]).
        try describe(heads: 2)
        let wrong = try CLI.run(arguments, directory: scratch)
        #expect(wrong.status != 0 && wrong.stderr.contains("proj_l.weight' has shape [128, 128], expected [64, 64]"))
        // Sizes demo.json states must agree with the weights.
        try describe(heads: 1, textDim: 4096)
        let contradicted = try CLI.run(arguments, directory: scratch)
        #expect(contradicted.status != 0 && contradicted.stderr.contains("demo.json (\"dit\"): 'text_dim' is 4096 but the weights have 64"),
                "\(contradicted.stderr)")
        try describe(heads: 1)
        let t2v = try CLI.run(arguments, directory: scratch)
        #expect(t2v.status == 0, "\(t2v.stderr)")
        // SLA keeps the share of key blocks the demo was fine-tuned with (demo.json), unless --sla_topk says otherwise.
        #expect(t2v.stderr.contains("1 heads × 128") && t2v.stderr.contains("top-k 0.5, blocks 8×8"), "\(t2v.stderr)")
        let topk = try CLI.run(arguments + ["--sla_topk", "0.2"], directory: scratch)
        #expect(topk.status == 0 && topk.stderr.contains("top-k 0.2, blocks 8×8"), "\(topk.stderr)")
        let path = scratch.appendingPathComponent(t2v.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).path
        let probe = try MP4Probe(path: path)
        #expect(probe.width == 48 && probe.height == 32 && probe.frames == 9)
        #expect(path.contains("t2v_0_demo_"))
        let i2v = try CLI.run(["i2v", "--model", "demo", "--prompt", "it rolls", "--num_steps", "2", "--video_writer", "builtin"],
                              directory: scratch)
        #expect(i2v.status == 0, "\(i2v.stderr)")
        #expect(i2v.stdout.contains("outputs/i2v_0_demo_"))
        // Beside the executable (a release binary with dist/models/demo): a link to the program in a
        // folder holding the stand-in, run from a folder with no models/demo.
        let install = scratch.appendingPathComponent("install")
        try FileManager.default.createDirectory(at: install, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: scratch.appendingPathComponent("models"), to: install.appendingPathComponent("models"))
        let program = install.appendingPathComponent("turbodiffusion").path
        let binary = try #require(CLI.binary).path
        if link(binary, program) != 0 { try FileManager.default.copyItem(atPath: binary, toPath: program) }
        let elsewhere = scratch.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let beside = try CLI.run(arguments, directory: elsewhere, executable: program)
        #expect(beside.status == 0 && beside.stderr.contains("demo models: \(install.path)/models/demo"), "\(beside.stderr)")
        // Neither here nor beside the program: the source tree's trained demo.
        let source = try CLI.run(arguments + ["--num_frames", "5"], directory: elsewhere)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        #expect(source.status == 0 && source.stderr.contains("demo models: \(root.path)/models/demo"), "\(source.stderr)")
    }

    /// A small RGB PNG (stored deflate blocks), written here so the test does not depend on the encoder under test.
    static func writePNG(width: Int, height: Int, to url: URL) throws {
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width { raw += [UInt8((x * 6) & 255), UInt8((y * 10) & 255), 128] }
        }
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func crc(_ bytes: [UInt8]) -> Int {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes { c ^= UInt32(b); for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 } }
            return Int(c ^ 0xFFFF_FFFF)
        }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] { be32(body.count) + Array(type.utf8) + body + be32(crc(Array(type.utf8) + body)) }
        var a: UInt32 = 1, b: UInt32 = 0
        for v in raw { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        var z: [UInt8] = [0x78, 0x01]
        var i = 0
        while i < raw.count {
            let n = min(65535, raw.count - i)
            z += [i + n == raw.count ? 1 : 0, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)] + raw[i..<(i + n)]
            i += n
        }
        z += be32(Int(b << 16 | a))
        let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", z) + chunk("IEND", [])
        try Data(png).write(to: url)
    }
}
