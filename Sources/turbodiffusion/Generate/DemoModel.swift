import Foundation
import Models
import Pipeline

/// The tiny models trained here (`models/demo`, see its README): `--model demo` runs them with the
/// same code paths as the released checkpoints. `demo.json` carries what the released models
/// hard-code: the DiT's head count, the VAE's latent statistics, the clip size and SLA blocks.
/// Its "dit" object is the DiTs' config (T2V and I2V): the sizes it states must agree with the weights.
struct DemoModel {
    static let defaultDirectory = "models/demo"
    let directory: String
    let dit: ModelConfigFile
    let vaeMean: [Double], vaeStd: [Double]
    let size: VideoSize
    let frames: Int
    let slaTopk: Double, slaBlockQ: Int, slaBlockK: Int

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    var t2v: String { path("dit_t2v.pth") }
    var t2vQuantized: String { path("dit_t2v_quant.pth") }
    var i2v: String { path("dit_i2v.pth") }
    var vae: String { path("vae.pth") }
    var textEncoder: String { path("t5.pth") }
    var tokenizer: String { path("spiece.model") }
    var sampleImage: String { path("sample_i2v.png") }

    static func load(_ directory: String = defaultDirectory) throws -> DemoModel {
        let file = (directory as NSString).appendingPathComponent("demo.json")
        guard let data = FileManager.default.contents(atPath: file) else {
            throw GenerationCommandError("the demo models are not at \(file); run from the repository root (they ship in models/demo)")
        }
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let dit = root["dit"] as? [String: Any], let vae = root["vae"] as? [String: Any] else {
            throw GenerationCommandError("\(file) is not a demo description (needs \"dit\" and \"vae\" objects)")
        }
        func int(_ o: [String: Any], _ k: String) throws -> Int {
            guard let v = o[k] as? Int else { throw GenerationCommandError("\(file): missing integer '\(k)'") }
            return v
        }
        func doubles(_ o: [String: Any], _ k: String) throws -> [Double] {
            guard let v = o[k] as? [Double], v.count == 16 else { throw GenerationCommandError("\(file): '\(k)' must hold 16 numbers") }
            return v
        }
        _ = try int(dit, "num_heads")   // the one thing the weights cannot tell
        let config = try ModelConfigFile(data: data, path: "\(file) (\"dit\")", member: "dit")
        let size = (root["size"] as? [Int]) ?? [64, 64]
        guard size.count == 2 else { throw GenerationCommandError("\(file): 'size' must be [width, height]") }
        return DemoModel(directory: directory, dit: config, vaeMean: try doubles(vae, "latent_mean"), vaeStd: try doubles(vae, "latent_std"),
                         size: VideoSize(width: size[0], height: size[1]), frames: (root["frames"] as? Int) ?? 17,
                         slaTopk: (root["sla_topk"] as? Double) ?? 0.5, slaBlockQ: (root["sla_block_q"] as? Int) ?? 16,
                         slaBlockK: (root["sla_block_k"] as? Int) ?? 16)
    }

    /// The options with every file and size the user did not give taken from the demo.
    func apply(to o: GenerationOptions) -> GenerationOptions {
        var o = o
        if o.vaePath == ModelCatalog.vaeDefault { o.vaePath = vae }
        if o.textEncoderPath == ModelCatalog.textEncoderDefault { o.textEncoderPath = textEncoder }
        if o.tokenizerPath == ModelCatalog.tokenizerDefault { o.tokenizerPath = tokenizer }
        if o.size == nil && o.resolution == nil { o.size = "\(size.width)x\(size.height)" }
        if o.numFrames == nil { o.numFrames = frames }
        return o
    }

    /// The attention the user asked for, with the demo's block sizes (its clips have few tokens) and,
    /// unless --sla_topk is given, the share of key blocks the SLA fine-tune used (demo.json).
    func attention(_ o: GenerationOptions) -> SelfAttentionKind {
        o.attention(blocks: (slaBlockQ, slaBlockK), defaultTopk: slaTopk)
    }
}
