import BackendCPU
import Checkpoints
import Foundation
import Testing
import TensorCore
@testable import Models

/// The weights decide the architecture; config.json supplies only what shapes cannot tell, and a
/// contradiction is an error naming both values and the file. Tiny random models in temp folders.
@Suite struct ModelConfigTests {
    let dir: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("modelconfig-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    /// Weights of `tensors` and a config.json of `config` (raw JSON text) in a fresh folder.
    func folder(_ name: String, _ tensors: [NamedTensor], config: String?) throws -> String {
        let d = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        try SafetensorsWriter.write(tensors, to: d.appendingPathComponent("model.safetensors").path)
        if let config { try Data(config.utf8).write(to: d.appendingPathComponent("config.json")) }
        return d.path
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    // A DiT whose text width is not umT5-XXL's 4096 and whose head count is not width/128.
    let dit = WanDiTConfig(dim: 64, ffnDim: 96, numHeads: 2, numLayers: 2, inChannels: 16, outChannels: 16,
                           textDim: 48, textLength: 8, frequencyDim: 32)

    func ditWeights(_ layout: WanDiTConfig.Layout = .official) throws -> [NamedTensor] {
        try WanDiTRandomWeights.stateDict(dit, layout: layout, seed: 3, dtype: .f32)
    }

    func resolveDiT(_ path: String, numHeads: Int? = nil) throws -> WanDiTConfig {
        try WanDiTConfig.resolve(tensors: Checkpoint.open(path: path).unprefixedTensors,
                                 config: ModelConfigFile.find(for: path), numHeads: numHeads)
    }

    @Test func ditConfigWithoutTextDimLoadsTheWeightsTextWidth() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // As the official Wan2.1 configs: no text_dim; plus keys this loader does not know.
        let path = try folder("dit", ditWeights(), config: """
            {"_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v", "dim": 64, "ffn_dim": 96,
             "freq_dim": 32, "in_dim": 16, "out_dim": 16, "num_heads": 2, "num_layers": 2, "patch_size": [1, 2, 2],
             "text_len": 8, "eps": 1e-5, "qk_norm": true, "cross_attn_norm": true, "window_size": [-1, -1]}
            """)
        let c = try resolveDiT(path)
        var expected = dit
        expected.eps = 1e-5
        #expect(c == expected)
        let model = try WanDiT(WeightStore(try Checkpoint.open(path: path).unprefixedTensors, source: path, backend: CPUBackend()), config: c)
        #expect(model.config.textDim == 48)
    }

    @Test func ditConfigMayOmitEveryShapeKey() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try folder("dit", ditWeights(.turbo), config: #"{"num_heads": 2}"#)
        var expected = dit
        expected.textLength = 512
        #expect(try resolveDiT(path) == expected)
        // The flag overrides the file's head count; without either, heads are 128 wide (64/128 = 0: refused).
        #expect(try resolveDiT(path, numHeads: 4).numHeads == 4)
        let none = try folder("none", ditWeights(), config: "{}")
        #expect(message { _ = try resolveDiT(none) }.contains("does not split into 0 heads"))
    }

    @Test func ditConfigContradictingTheWeightsNamesBothValuesAndTheFile() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ditWeights()
        for (key, stated, actual) in [("text_dim", "4096", "48"), ("dim", "128", "64"), ("ffn_dim", "8960", "96"),
                                      ("num_layers", "30", "2"), ("in_dim", "36", "16"), ("out_dim", "4", "16"),
                                      ("freq_dim", "256", "32"), ("patch_size", "[1, 4, 4]", "[1, 2, 2]")] {
            let path = try folder(key, weights, config: #"{"num_heads": 2, "\#(key)": \#(stated)}"#)
            let m = message { _ = try resolveDiT(path) }
            #expect(m.contains("\(path)/config.json") && m.contains("'\(key)' is \(stated)") && m.contains("weights have \(actual)"), "\(m)")
        }
        let i2v = try folder("model_type", weights, config: #"{"num_heads": 2, "model_type": "i2v"}"#)
        #expect(message { _ = try resolveDiT(i2v) }.contains("'model_type' is \"i2v\" (36 input channels) but the weights have 16 input channels"))
        let other = try folder("other_type", weights, config: #"{"num_heads": 2, "model_type": "flf2v-experimental"}"#)
        #expect(try resolveDiT(other).inChannels == 16)
    }

    @Test func ditConfigValuesShapesCannotTellAreChecked() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ditWeights()
        for (json, needle) in [(#"{"num_heads": 3}"#, "'num_heads' is 3"), (#"{"num_heads": 2, "text_len": 0}"#, "'text_len' must be positive"),
                               (#"{"num_heads": 2, "eps": -1}"#, "'eps' must lie in (0, 1)"),
                               (#"{"num_heads": "two"}"#, "'num_heads' must be an integer, found a string"),
                               (#"[1, 2]"#, "expected a JSON object"), (#"{"num_heads": 2,"#, "not valid JSON")] {
            let path = try folder("bad", weights, config: json)
            let m = message { _ = try resolveDiT(path) }
            #expect(m.contains("config.json") && m.contains(needle), "\(json): \(m)")
            try FileManager.default.removeItem(atPath: path)
        }
    }

    // umT5: the head count is in the weights (position table); max distance and eps are not.
    let t5 = UMT5Config(vocabSize: 96, dim: 32, attentionDim: 32, ffnDim: 40, numHeads: 4, numLayers: 2, numBuckets: 8)

    func resolveT5(_ path: String) throws -> UMT5Config {
        try UMT5Config.resolve(tensors: Checkpoint.open(path: path).unprefixedTensors, config: ModelConfigFile.find(for: path))
    }

    @Test func umt5ConfigSuppliesOnlyWhatShapesCannot() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try UMT5RandomWeights.stateDict(t5, seed: 1)
        let path = try folder("t5", weights, config: """
            {"architectures": ["UMT5EncoderModel"], "d_model": 32, "d_kv": 8, "num_heads": 4, "vocab_size": 96,
             "relative_attention_max_distance": 20, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": false}
            """)
        var expected = t5
        (expected.maxDistance, expected.eps) = (20, 1e-5)
        #expect(try resolveT5(path) == expected)
        _ = try UMT5Encoder(WeightStore(try Checkpoint.open(path: path).unprefixedTensors, source: path, backend: CPUBackend()), config: expected)
        for (key, stated, actual) in [("d_model", "4096", "32"), ("num_heads", "64", "4"), ("d_ff", "10240", "40"),
                                      ("relative_attention_num_buckets", "32", "8"), ("num_layers", "24", "2"), ("d_kv", "64", "8")] {
            let bad = try folder("t5-\(key)", weights, config: #"{"\#(key)": \#(stated)}"#)
            let m = message { _ = try resolveT5(bad) }
            #expect(m.contains("\(bad)/config.json") && m.contains("'\(key)' is \(stated)") && m.contains("weights have \(actual)"), "\(m)")
        }
        let far = try folder("t5-far", weights, config: #"{"relative_attention_max_distance": 2}"#)
        #expect(message { _ = try resolveT5(far) }.contains("must exceed a quarter of the 8 buckets"))
    }

    // VAE: every level count, multiplier and temporal flag from the key set; statistics from the config.
    @Test func vaeArchitectureComesFromTheKeySet() throws {
        var odd = WanVAEConfig(dim: 8, zDim: 16)
        odd.dimMult = [1, 2, 3, 3]
        odd.numResBlocks = 1
        odd.temporalDownsample = [true, false, true]
        let weights = try WanVAERandomWeights.stateDict(odd, seed: 2)
        #expect(try WanVAEConfig.detect(tensors: weights) == odd)
        #expect(try WanVAEConfig.detect(tensors: weights.filter { !$0.name.hasPrefix("encoder.") }) == odd)
        #expect(try WanVAEConfig.detect(tensors: WanVAERandomWeights.stateDict(.wan21, seed: 1, keep: { $0.hasPrefix("decoder.") })) == .wan21)
        _ = try WanVAE(WeightStore(weights, source: "odd", backend: CPUBackend()), config: odd)
    }

    @Test func vaeConfigSuppliesLatentStatisticsAndMustAgree() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var small = WanVAEConfig(dim: 8, zDim: 4)
        small.dimMult = [1, 2]
        small.temporalDownsample = [true]
        let weights = try WanVAERandomWeights.stateDict(small, seed: 2)
        let path = try folder("vae", weights, config: """
            {"_class_name": "AutoencoderKLWan", "base_dim": 8, "z_dim": 4, "attn_scales": [], "dropout": 0.0,
             "latents_mean": [0.5, -0.5, 0, 1], "latents_std": [1, 2, 3, 4]}
            """)
        let c = try WanVAEConfig.resolve(tensors: Checkpoint.open(path: path).unprefixedTensors, config: ModelConfigFile.find(for: path))
        #expect(c.mean == [0.5, -0.5, 0, 1] && c.std == [1, 2, 3, 4] && c.dimMult == [1, 2] && c.temporalDownsample == [true])
        for (json, needle) in [(#"{"z_dim": 16}"#, "'z_dim' is 16 but the weights have 4"),
                               (#"{"dim_mult": [1, 2, 4, 4]}"#, "'dim_mult' is [1, 2, 4, 4] but the weights have [1, 2]"),
                               (#"{"temperal_downsample": [false]}"#, "'temperal_downsample' is [false] but the weights have [true]"),
                               (#"{"num_res_blocks": 3}"#, "'num_res_blocks' is 3 but the weights have 2"),
                               (#"{"latents_mean": [0, 0]}"#, "'latents_mean' holds 2 numbers; the weights have 4 latent channels"),
                               (#"{"latents_std": [1, 0, 1, 1]}"#, "'latents_std' holds 0.0")] {
            let bad = try folder("vae-bad", weights, config: json)
            let m = message { _ = try WanVAEConfig.resolve(tensors: Checkpoint.open(path: bad).unprefixedTensors, config: ModelConfigFile.find(for: bad)) }
            #expect(m.contains("\(bad)/config.json") && m.contains(needle), "\(json): \(m)")
            try FileManager.default.removeItem(atPath: bad)
        }
    }

    @Test func configIsOnlyReadBesideAFileWhenAsked() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try folder("beside", ditWeights(), config: #"{"num_heads": 2}"#)
        let file = path + "/model.safetensors"
        #expect(try ModelConfigFile.find(for: file) == nil)
        #expect(try ModelConfigFile.find(for: file, besideFiles: true)?.path == path + "/config.json")
        #expect(try ModelConfigFile.find(for: path)?.keys == ["num_heads"])
    }
}
