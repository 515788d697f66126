#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import Pipeline

/// The tiny models trained here (`models/demo`, see its README): `--model demo` runs them with the
/// same code paths as the released checkpoints. `demo.json` carries what the released models
/// hard-code: the DiT's head count, the VAE's latent statistics, the clip size and SLA blocks.
/// Its "dit" object is the DiTs' config (T2V and I2V): the sizes it states must agree with the weights.
struct DemoModel {
    static let defaultDirectory = "models/demo"

    /// Where `--model demo` looks, first found wins: `models/demo` under the working directory (the
    /// repository root), beside the executable (a release binary from scripts/build-release, which
    /// copies them to dist/models/demo), then in the source tree the executable was built from.
    static func candidateDirectories(executable: String? = executablePath(), sourceFile: String = thisFile) -> [String] {
        var dirs = [defaultDirectory]
        if let exe = executable { dirs.append(Path.join(Path.directory(of: exe), defaultDirectory)) }
        // Sources/turbodiffusion/Generate/DemoModel.swift → the repository root.
        var root = sourceFile
        for _ in 0 ..< 4 { root = Path.directory(of: root) }
        if !root.isEmpty { dirs.append(Path.join(root, defaultDirectory)) }
        return dirs
    }

    /// This file as the compiler saw it (a `#filePath` default argument would name the caller's file).
    private static let thisFile = #filePath

    /// The first candidate holding demo.json (the working directory's when none does, for the message).
    static func locate() -> String {
        candidateDirectories().first { FileManager.default.fileExists(atPath: Path.join($0, "demo.json")) } ?? defaultDirectory
    }

    /// This process's executable, from /proc/self/exe.
    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    let directory: String
    let dit: ModelConfigFile
    let vaeMean: [Double], vaeStd: [Double]
    let size: VideoSize
    let frames: Int
    let slaTopk: Double, slaBlockQ: Int, slaBlockK: Int

    func path(_ name: String) -> String { Path.join(directory, name) }
    var t2v: String { path("dit_t2v.pth") }
    var t2vQuantized: String { path("dit_t2v_quant.pth") }
    var i2v: String { path("dit_i2v.pth") }
    var vae: String { path("vae.pth") }
    var textEncoder: String { path("t5.pth") }
    var tokenizer: String { path("spiece.model") }
    var sampleImage: String { path("sample_i2v.png") }

    static func load(_ directory: String? = nil) throws -> DemoModel {
        let directory = directory ?? locate()
        let file = Path.join(directory, "demo.json")
        guard let data = FileManager.default.contents(atPath: file) else {
            let places = candidateDirectories().joined(separator: ", ")
            throw GenerationCommandError("the demo models are not in any of \(places); run from the repository root (they ship in models/demo) or put models/demo beside the executable")
        }
        let root: DemoFile
        do {
            root = try JSONDecoder().decode(DemoFile.self, from: data)
        } catch {
            throw GenerationCommandError("\(file) is not a demo description (needs \"dit\" and \"vae\" objects of the right types): \(error)")
        }
        func doubles(_ v: [Double]?, _ k: String) throws -> [Double] {
            guard let v, v.count == 16 else { throw GenerationCommandError("\(file): '\(k)' must hold 16 numbers") }
            return v
        }
        // The one thing the weights cannot tell.
        guard root.dit.numHeads != nil else { throw GenerationCommandError("\(file): missing integer 'num_heads'") }
        let config = try ModelConfigFile(data: data, path: "\(file) (\"dit\")", member: "dit")
        let size = root.size ?? [64, 64]
        guard size.count == 2 else { throw GenerationCommandError("\(file): 'size' must be [width, height]") }
        return DemoModel(directory: directory, dit: config, vaeMean: try doubles(root.vae.latentMean, "latent_mean"),
                         vaeStd: try doubles(root.vae.latentStd, "latent_std"),
                         size: VideoSize(width: size[0], height: size[1]), frames: root.frames ?? 17,
                         slaTopk: root.slaTopk ?? 0.5, slaBlockQ: root.slaBlockQ ?? 16, slaBlockK: root.slaBlockK ?? 16)
    }

    /// The fields of demo.json read here (the DiT's config is read by `ModelConfigFile`).
    private struct DemoFile: Decodable {
        struct DiT: Decodable {
            let numHeads: Int?
            enum CodingKeys: String, CodingKey { case numHeads = "num_heads" }
        }
        struct VAE: Decodable {
            let latentMean: [Double]?, latentStd: [Double]?
            enum CodingKeys: String, CodingKey { case latentMean = "latent_mean", latentStd = "latent_std" }
        }
        let dit: DiT, vae: VAE
        let size: [Int]?, frames: Int?, slaTopk: Double?, slaBlockQ: Int?, slaBlockK: Int?
        enum CodingKeys: String, CodingKey {
            case dit, vae, size, frames
            case slaTopk = "sla_topk", slaBlockQ = "sla_block_q", slaBlockK = "sla_block_k"
        }
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
