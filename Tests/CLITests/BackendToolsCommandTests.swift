import Foundation
import Testing

/// `test-backend`, `compare` and `compare-frames`: the tools scripts/cuda/gpu_checks.sh is built on.
@Suite struct BackendToolsCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures")

    @Test func testBackendOnTheCPURunsTheCatalogue() throws {
        let r = try CLI.run(["test-backend", "--device", "cpu", "--op", "layerNorm", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("0 failed"))
        let list = try CLI.run(["test-backend", "--list"])
        for op in ["attention", "conv3d", "quantizedMatmul", "slaBlockMap", "rotary"] { #expect(list.stdout.contains("\(op):"), "\(op)") }
        let unknown = try CLI.run(["test-backend", "--op", "warpDrive"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown --op 'warpDrive'"))
    }

    /// --shared-memory-limit plans CUDA kernels for a smaller GPU's shared memory; it is refused where it
    /// means nothing (the CPU) or could not be a GPU's (below 48 KiB), before any device is opened.
    @Test func sharedMemoryLimitIsCheckedBeforeRunning() throws {
        let cpu = try CLI.run(["test-backend", "--device", "cpu", "--shared-memory-limit", "101376", "--op", "layerNorm"])
        #expect(cpu.status != 0 && cpu.stderr.contains("--shared-memory-limit applies to --device cuda only"), "\(cpu.stderr)")
        let tiny = try CLI.run(["test-backend", "--device", "cuda", "--shared-memory-limit", "4096", "--op", "layerNorm"])
        #expect(tiny.status != 0 && tiny.stderr.contains("at least 49152 bytes"), "\(tiny.stderr)")
    }

    /// --cuda-kernels picks the CUDA kernel set (candidates awaiting their first GPU run); refused on the
    /// CPU by test-backend, and a name that is no set is refused by every command that takes it.
    @Test func cudaKernelSetIsCheckedBeforeRunning() throws {
        let cpu = try CLI.run(["test-backend", "--device", "cpu", "--cuda-kernels", "candidate", "--op", "layerNorm"])
        #expect(cpu.status != 0 && cpu.stderr.contains("--cuda-kernels applies to --device cuda only"), "\(cpu.stderr)")
        let standard = try CLI.run(["test-backend", "--device", "cpu", "--cuda-kernels", "standard", "--op", "layerNorm", "--quiet"])
        #expect(standard.status == 0 && standard.stdout.contains("0 failed"), "\(standard.stderr)")
        let compare = try CLI.run(["bench", "dit", "--device", "cpu", "--compare-kernels"])
        #expect(compare.status != 0 && compare.stderr.contains("--compare-kernels compares CUDA kernel sets"), "\(compare.stderr)")
        for command in [["test-backend"], ["bench", "dit"], ["bench", "pipeline"], ["forward", "dit", "--weights", "w", "--inputs", "i", "--output", "o"]] {
            let bad = try CLI.run(command + ["--cuda-kernels", "fastest"])
            #expect(bad.status != 0 && bad.stderr.contains("fastest") && bad.stderr.contains("--cuda-kernels"), "\(command): \(bad.stderr)")
        }
    }

    @Test func compareHoldsATensorToItsReference() throws {
        let io = Self.fixtures.appendingPathComponent("dit_t2v_hd64_io.safetensors").path
        let same = try CLI.run(["compare", io, io, "--key", "out", "--bound", "0"])
        #expect(same.status == 0 && same.stdout.contains("relative L2 0.000e+00"), "\(same.stdout)")
        // x against out: same shape, other values, so far above any bound.
        let other = try CLI.run(["compare", io, io, "--key", "x", "--ref-key", "out", "--bound", "1e-3"])
        #expect(other.status == 1 && other.stdout.contains("FAILED"))
        let shapes = try CLI.run(["compare", io, io, "--key", "context", "--ref-key", "out", "--bound", "1"])
        #expect(shapes.status == 1 && shapes.stdout.contains("≠ reference"))
    }

    @Test func compareFramesMeasuresPixelDifferences() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("td-frames-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let demo = try CLI.run(["t2v", "--model", "demo", "--device", "cpu", "--prompt", "A red ball moves left.", "--num_steps", "1",
                                "--save_path", dir.appendingPathComponent("a.mp4").path, "--frames_dir", dir.appendingPathComponent("a").path,
                                "--video_writer", "builtin"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let same = try CLI.run(["compare-frames", dir.appendingPathComponent("a").path, dir.appendingPathComponent("a").path, "--bound", "0"])
        #expect(same.status == 0 && same.stdout.contains("mean absolute difference 0.000"), "\(same.stdout)")
    }
}
