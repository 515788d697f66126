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

    /// A model folder as the official repositories ship it: config.json without text_dim (the
    /// weights' text width is not 4096) and with keys the loader does not know.
    @Test func readsTheHeadCountFromAConfigThatOmitsShapeKeys() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let source = Self.fixtures.appendingPathComponent("dit_t2v_hd64.safetensors")
        let io = Self.fixtures.appendingPathComponent("dit_t2v_hd64_io.safetensors").path
        let shapes = Dictionary(uniqueKeysWithValues: try Checkpoint.open(path: source.path).unprefixedTensors.map { ($0.name, $0.tensor.shape) })
        let (dim, textDim) = (shapes["patch_embedding.weight"]![0], shapes["text_embedding.0.weight"]![1])
        #expect(textDim != 4096)
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: model.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let config = model.appendingPathComponent("config.json")
        try Data(#"{"_class_name": "WanModel", "dim": \#(dim), "num_heads": \#(dim / 64), "text_len": 16, "window_size": [-1, -1]}"#.utf8).write(to: config)
        let out = scratch.appendingPathComponent("out.safetensors").path
        let r = try CLI.run(["forward", "dit", "--weights", model.path, "--inputs", io, "--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("text \(textDim)×16"), "\(r.stderr)")

        try Data(#"{"num_heads": \#(dim / 64), "text_dim": 4096}"#.utf8).write(to: config)
        let bad = try CLI.run(["forward", "dit", "--weights", model.path, "--inputs", io, "--output", out])
        #expect(bad.status == 1 && bad.stderr.contains(config.path) && bad.stderr.contains("'text_dim' is 4096 but the weights have \(textDim)"), "\(bad.stderr)")
    }
}
