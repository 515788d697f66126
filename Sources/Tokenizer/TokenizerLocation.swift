#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// Where the umT5 tokenizer lives (`--tokenizer_path`): a directory holding `tokenizer.json`
/// or `spiece.model` (default `checkpoints/umt5-xxl/`), or one of those files itself.
public enum TokenizerLocation {
    public static let defaultDirectory = "checkpoints/umt5-xxl"
    public static let repository = "https://huggingface.co/google/umt5-xxl"
    /// Files looked for in a directory, in order of preference. tokenizer.json comes first: it
    /// is the file Wan's HuggingfaceTokenizer (transformers' AutoTokenizer) actually reads.
    public static let fileNames = ["tokenizer.json", "spiece.model"]

    public static var downloadHint: String {
        "Download spiece.model or tokenizer.json from \(repository) (files tab): `turbodiffusion download` "
            + "fetches them into \(defaultDirectory) with the models, or "
            + "`huggingface-cli download google/umt5-xxl tokenizer.json spiece.model --local-dir \(defaultDirectory)`."
    }

    /// The tokenizer file for `path` (nil: the default directory).
    public static func resolve(_ path: String? = nil) throws -> String {
        let p = path ?? defaultDirectory
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory) else {
            throw TokenizerError(.notFound, path: p, "no tokenizer here. \(downloadHint)")
        }
        guard isDirectory else { return p }
        for name in fileNames {
            let candidate = Path.join(p, name)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw TokenizerError(.notFound, path: p, "the directory holds neither tokenizer.json nor spiece.model. \(downloadHint)")
    }

    /// Resolves `path` and loads the tokenizer.
    public static func load(_ path: String? = nil) throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(contentsOf: resolve(path))
    }
}
