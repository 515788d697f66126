import Checkpoints
import Foundation
import Testing

/// `forward dit` end to end on the DiT golden fixtures (made by scripts/reference/make_dit_fixtures.py
/// with the reference `wan22` code): the file the command writes must hold the reference output.
@Suite struct ForwardDiTCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures")

    let scratch: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("ditcli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    @Test func writesTheReferenceOutput() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let weights = Self.fixtures.appendingPathComponent("dit_t2v_hd64.safetensors").path
        let io = Self.fixtures.appendingPathComponent("dit_t2v_hd64_io.safetensors").path
        let dim = try Checkpoint.open(path: weights).unprefixedTensors.first { $0.name == "patch_embedding.weight" }!.tensor.shape[0]
        let out = scratch.appendingPathComponent("sub/out.safetensors").path
        let r = try CLI.run(["forward", "dit", "--weights", weights, "--inputs", io, "--output", out,
                             "--num_heads", "\(dim / 64)", "--text_len", "16"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("wrote \(out)"))
        let ours = try Checkpoint.open(path: out).tensor("out").floats()
        let reference = try Checkpoint.open(path: io).tensor("out").floats()
        #expect(ours.count == reference.count)
        var num = 0.0, den = 0.0
        for (a, b) in zip(ours, reference) {
            num += Double(a - b) * Double(a - b)
            den += Double(b) * Double(b)
        }
        #expect((num / den).squareRoot() <= 1e-5, "relative L2 \((num / den).squareRoot())")
    }

    @Test func namesMissingWeightsAndInputs() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let none = try CLI.run(["forward", "dit", "--inputs", "x.safetensors", "--output", "o.safetensors"])
        #expect(none.status != 0 && none.stderr.contains("--weights"))
        let weights = Self.fixtures.appendingPathComponent("dit_t2v_hd64.safetensors").path
        let missing = scratch.appendingPathComponent("nope.safetensors").path
        let r = try CLI.run(["forward", "dit", "--weights", weights, "--inputs", missing, "--output", scratch.appendingPathComponent("o").path,
                             "--num_heads", "2", "--text_len", "16"])
        #expect(r.status == 1 && r.stderr.contains("nope.safetensors"), "\(r.stderr)")
    }
}
