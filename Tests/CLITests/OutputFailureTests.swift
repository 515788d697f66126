import Foundation
import Testing

/// Output that cannot be written (a file-size limit standing in for a full disk, a folder that
/// cannot be created, a name taken by a folder): one clear error, nothing under the final name,
/// no temporary file, and in `serve` the session goes on.
@Suite(.serialized) struct OutputFailureTests {
    static func model(_ name: String) -> String { GenerateCommandTests.model(name) }

    let scratch: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("td-outfail-\(UInt32.random(in: 0 ... .max))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    var models: [String] {
        ["--dit_path", Self.model("dit_t2v.pth"), "--vae_path", Self.model("vae.pth"), "--text_encoder_path", Self.model("t5.pth"),
         "--tokenizer_path", Self.model("tokenizer"), "--num_steps", "1", "--video_writer", "builtin"]
    }

    /// The program under a file-size limit of `kib` KiB (`ulimit -f` counts 512- or 1024-byte
    /// blocks depending on the shell; the sizes used here fail or pass under either).
    func limited(_ kib: Int, _ arguments: [String], stdin: String? = nil) throws -> CLI.Result {
        let binary = try #require(CLI.binary).path
        let quoted = ([binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try CLI.run(["-c", "ulimit -f \(kib) && exec \(quoted)"], stdin: stdin, directory: scratch, executable: "/bin/sh")
    }

    func files(_ dir: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    @Test func aFullDiskLeavesNoFileAndOneError() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out")
        // 96×96, 9 frames of I_PCM: about 125 KB, over a 40-block limit.
        let r = try limited(40, ["t2v", "--prompt", "a red ball", "--size", "96x96", "--num_frames", "9",
                                 "--save_path", out.appendingPathComponent("v.mp4").path] + models)
        #expect(r.status == 1, "\(r.stderr)")
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains("v.mp4") && errors[0].contains("EFBIG"), "\(r.stderr)")
        #expect(!r.stderr.contains("saved"))
        #expect(files(out).isEmpty, "\(files(out))")
    }

    /// Checkpoints written by the program (here `quantize`, ~1 MB) obey the same rule.
    @Test func aSafetensorsWriteOverTheLimitLeavesNothing() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Fixtures/dit_t2v_hd64.safetensors").path
        let out = scratch.appendingPathComponent("q")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let r = try limited(200, ["quantize", input, out.appendingPathComponent("q.safetensors").path])
        #expect(r.status != 0 && r.stderr.contains("file size limit (ulimit -f)"), "\(r.stderr)")
        #expect(files(out).isEmpty, "\(files(out))")
    }

    @Test func serveGoesOnAfterAFailedWrite() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let script = "/set size 96x96\n/set num_frames 9\na red ball\n/set size 16x16\n/set num_frames 1\na red ball\n/quit\n"
        let r = try limited(40, ["serve", "t2v"] + models, stdin: script)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.components(separatedBy: "error: cannot write").count == 2, "\(r.stdout)")
        #expect(r.stdout.components(separatedBy: "saved outputs/t2v_").count == 2, "\(r.stdout)")
        let outputs = files(scratch.appendingPathComponent("outputs"))
        #expect(outputs.count == 1 && outputs[0].hasSuffix(".mp4"), "\(outputs)")
    }

    @Test func unwritableFoldersAndTakenNamesLeaveNothing() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let plain = scratch.appendingPathComponent("plain")
        try Data([1]).write(to: plain)
        let small = ["t2v", "--prompt", "a red ball", "--size", "16x16", "--num_frames", "1"] + models
        // The video's folder cannot be created: its parent is a file.
        let noFolder = try CLI.run(small + ["--save_path", plain.appendingPathComponent("v.mp4").path])
        #expect(noFolder.status == 1 && noFolder.stderr.contains("error: cannot write") && noFolder.stderr.contains("plain/v.mp4"), "\(noFolder.stderr)")

        // The video is written, the frames are not (a folder takes frame 1's name): the error says
        // the video was saved, and no frame is left.
        let frames = scratch.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames.appendingPathComponent("frame_00001.png"), withIntermediateDirectories: true)
        let video = scratch.appendingPathComponent("v.mp4")
        let r = try CLI.run(["t2v", "--prompt", "a red ball", "--size", "16x16", "--num_frames", "5", "--save_path", video.path,
                             "--frames_dir", frames.path] + models)
        #expect(r.status == 1, "\(r.stderr)")
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains("the video was saved to \(video.path), but the PNG frames were not"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: video.path))
        #expect(files(frames) == ["frame_00001.png"])
        #expect(files(scratch).filter { $0.hasPrefix(".") }.isEmpty)
    }
}
