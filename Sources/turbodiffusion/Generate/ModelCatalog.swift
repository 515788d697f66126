#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// The released checkpoints the generation commands know by name, with where they are published,
/// so a missing file gets a message that says what to download from where.
enum ModelCatalog {
    static let wanRepo = "https://huggingface.co/Wan-AI/Wan2.1-T2V-1.3B/resolve/main"
    static let vaeDefault = "checkpoints/Wan2.1_VAE.pth"
    static let textEncoderDefault = "checkpoints/models_t5_umt5-xxl-enc-bf16.pth"
    static let tokenizerDefault = "checkpoints/umt5-xxl/"

    /// The T2V models of `--model`.
    enum T2VModel: String, CaseIterable {
        case wan21_1_3B = "Wan2.1-1.3B", wan21_14B = "Wan2.1-14B", demo
        var turboName: String { self == .wan21_14B ? "TurboWan2.1-T2V-14B-480P" : "TurboWan2.1-T2V-1.3B-480P" }
    }

    static func ditDefault(_ m: T2VModel, quantized: Bool) -> String {
        "checkpoints/\(m.turboName)\(quantized ? "-quant" : "").pth"
    }

    static func i2vDefault(noise: String, quantized: Bool) -> String {
        "checkpoints/TurboWan2.2-I2V-A14B-\(noise)-720P\(quantized ? "-quant" : "").pth"
    }

    /// Where a file of this name is published (nil for names we do not know).
    static func source(of path: String) -> String? {
        let name = URL(fileURLWithPath: path).lastPathComponent
        switch name {
        case "Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth": return "\(wanRepo)/\(name)"
        case let n where n.hasPrefix("TurboWan2.1-T2V-1.3B-480P"):
            return "https://huggingface.co/TurboDiffusion/TurboWan2.1-T2V-1.3B-480P/resolve/main/\(n)"
        case let n where n.hasPrefix("TurboWan2.1-T2V-14B-480P"):
            return "https://huggingface.co/TurboDiffusion/TurboWan2.1-T2V-14B-480P/resolve/main/\(n)"
        case let n where n.hasPrefix("TurboWan2.1-T2V-14B-720P"):
            return "https://huggingface.co/TurboDiffusion/TurboWan2.1-T2V-14B-720P/resolve/main/\(n)"
        case let n where n.hasPrefix("TurboWan2.2-I2V-A14B"):
            return "https://huggingface.co/TurboDiffusion/TurboWan2.2-I2V-A14B-720P/resolve/main/\(n)"
        default: return nil
        }
    }

    /// Throws a message naming the missing file, the flag that sets it and where to get it.
    static func requireFile(_ path: String, flag: String, what: String) throws {
        var isDir = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return }
        var m = "\(what) not found at \(path) (set it with \(flag))"
        if let url = source(of: path) { m += "; download it with:\n  mkdir -p \(URL(fileURLWithPath: path).deletingLastPathComponent().relativePath) && wget -O \(path) \(url)" }
        throw GenerationCommandError(m)
    }
}

struct GenerationCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ m: String) { description = m }
}
