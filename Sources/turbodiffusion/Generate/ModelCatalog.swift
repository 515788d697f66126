#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import HubDownload
import Pipeline

/// The released checkpoints the generation commands know by name, where each default path is
/// published on the Hub (so a missing file gets a message saying how to get it), and the file sets
/// `turbodiffusion download` fetches into those default paths.
enum ModelCatalog {
    static let checkpointsDirectory = "checkpoints"
    static let vaeDefault = "checkpoints/Wan2.1_VAE.pth"
    static let textEncoderDefault = "checkpoints/models_t5_umt5-xxl-enc-bf16.pth"
    static let tokenizerDefault = "checkpoints/umt5-xxl/"
    /// The umT5 encoder and the VAE are published with the official Wan2.1 model.
    static let wanRepo = "Wan-AI/Wan2.1-T2V-1.3B"
    static let tokenizerRepo = "google/umt5-xxl"
    /// google/umt5-xxl's tokenizer files (the Tokenizer module reads tokenizer.json, else spiece.model;
    /// the other two complete the folder as transformers' AutoTokenizer expects it).
    static let tokenizerFiles = ["tokenizer.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"]
    static let hubWebsite = "https://huggingface.co"

    /// The T2V models of `--model`.
    enum T2VModel: String, CaseIterable {
        case wan21_1_3B = "Wan2.1-1.3B", wan21_14B = "Wan2.1-14B", demo
        var turboName: String { self == .wan21_14B ? "TurboWan2.1-T2V-14B-480P" : "TurboWan2.1-T2V-1.3B-480P" }
        /// The checkpoint for a resolution: only the 14B model has a 720p one.
        func turboName(_ resolution: Resolution) -> String {
            self == .wan21_14B && resolution == .p720 ? "TurboWan2.1-T2V-14B-720P" : turboName
        }
    }

    static func ditDefault(_ m: T2VModel, quantized: Bool, resolution: Resolution = .p480) -> String {
        "checkpoints/\(m.turboName(resolution))\(quantized ? "-quant" : "").pth"
    }

    static func i2vDefault(noise: String, quantized: Bool) -> String {
        "checkpoints/TurboWan2.2-I2V-A14B-\(noise)-720P\(quantized ? "-quant" : "").pth"
    }

    /// The Hub repository publishing a checkpoint of this file name (nil for names we do not know).
    static func repository(ofFileNamed name: String) -> String? {
        switch name {
        case "Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth": return wanRepo
        case let n where n.hasPrefix("TurboWan2.1-T2V-1.3B-480P"): return "TurboDiffusion/TurboWan2.1-T2V-1.3B-480P"
        case let n where n.hasPrefix("TurboWan2.1-T2V-14B-480P"): return "TurboDiffusion/TurboWan2.1-T2V-14B-480P"
        case let n where n.hasPrefix("TurboWan2.1-T2V-14B-720P"): return "TurboDiffusion/TurboWan2.1-T2V-14B-720P"
        case let n where n.hasPrefix("TurboWan2.2-I2V-A14B"): return "TurboDiffusion/TurboWan2.2-I2V-A14B-720P"
        default: return nil
        }
    }

    /// Where a file of this name is published (nil for names we do not know).
    static func source(of path: String) -> String? {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return repository(ofFileNamed: name).map { "\(hubWebsite)/\($0)/resolve/main/\(name)" }
    }

    /// The models `turbodiffusion download` knows: the generation commands' `--model` names.
    enum DownloadModel: String, CaseIterable {
        case wan21_1_3B = "Wan2.1-1.3B", wan21_14B = "Wan2.1-14B", wan22_A14B = "Wan2.2-A14B"

        /// The resolutions with a released checkpoint; the first is the generation command's default.
        var resolutions: [Resolution] {
            switch self {
            case .wan21_1_3B: [.p480]
            case .wan21_14B: [.p480, .p720]
            case .wan22_A14B: [.p720]
            }
        }

        /// The DiT checkpoints' default paths.
        func ditPaths(quantized: Bool, resolution: Resolution) -> [String] {
            switch self {
            case .wan21_1_3B: [ModelCatalog.ditDefault(.wan21_1_3B, quantized: quantized, resolution: resolution)]
            case .wan21_14B: [ModelCatalog.ditDefault(.wan21_14B, quantized: quantized, resolution: resolution)]
            case .wan22_A14B: ["high", "low"].map { ModelCatalog.i2vDefault(noise: $0, quantized: quantized) }
            }
        }
    }

    /// Everything `model` needs at `resolution` (nil: its default), as Hub files placed under `dir`
    /// in the layout of the generation commands' defaults (`dir` = checkpoints gives exactly them).
    static func downloads(_ model: DownloadModel, quantized: Bool, resolution: Resolution?, dir: String) throws -> [HubFile] {
        let r = resolution ?? model.resolutions[0]
        guard model.resolutions.contains(r) else {
            throw GenerationCommandError("\(model.rawValue) has no \(r.rawValue) checkpoint; it is released at \(model.resolutions.map(\.rawValue).joined(separator: " and "))")
        }
        func placed(_ defaultPath: String) -> String {
            let prefix = checkpointsDirectory + "/"
            let relative = defaultPath.hasPrefix(prefix) ? String(defaultPath.dropFirst(prefix.count)) : defaultPath
            return dir.hasSuffix("/") ? dir + relative : dir + "/" + relative
        }
        var files: [HubFile] = []
        for path in [textEncoderDefault, vaeDefault] + model.ditPaths(quantized: quantized, resolution: r) {
            let name = URL(fileURLWithPath: path).lastPathComponent
            // Every default path is a released file name (a nil here is a catalogue bug).
            files.append(HubFile(repo: repository(ofFileNamed: name)!, path: name, destination: placed(path)))
        }
        for name in tokenizerFiles {
            files.append(HubFile(repo: tokenizerRepo, path: name, destination: placed(tokenizerDefault + name)))
        }
        return files
    }

    /// Throws a message naming the missing file, the flag that sets it and how to get it.
    static func requireFile(_ path: String, flag: String, what: String) throws {
        var isDir = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return }
        var m = "\(what) not found at \(path) (set it with \(flag))"
        if let url = source(of: path) {
            m += "; download it with `turbodiffusion download \(downloadCommandHint(for: path)), or from \(url)"
        }
        throw GenerationCommandError(m)
    }

    /// The `download` arguments that fetch the file at `path` into its directory. The VAE and the
    /// text encoder come with every model, so their hint names the model to choose as MODEL.
    static func downloadCommandHint(for path: String) -> String {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().relativePath
        let dirFlag = dir == checkpointsDirectory ? "" : " --dir \(dir)"
        guard name.hasPrefix("TurboWan") else { return "MODEL\(dirFlag)` (MODEL: the --model you run)" }
        let quant = name.contains("-quant") ? " --quant" : ""
        let model: DownloadModel = name.hasPrefix("TurboWan2.2") ? .wan22_A14B : name.hasPrefix("TurboWan2.1-T2V-14B") ? .wan21_14B : .wan21_1_3B
        let resolution = name.hasPrefix("TurboWan2.1-T2V-14B-720P") ? " --resolution 720p" : ""
        return "\(model.rawValue)\(quant)\(resolution)\(dirFlag)`"
    }
}

struct GenerationCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ m: String) { description = m }
}
