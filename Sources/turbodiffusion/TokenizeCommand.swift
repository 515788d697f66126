import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Tokenizer

/// `turbodiffusion tokenize --tokenizer FILE_OR_DIR TEXT`: the umT5 token ids of a prompt.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the umT5 token ids of a text (and optionally its pieces).",
        discussion: """
            The tokenizer is google/umt5-xxl's spiece.model or tokenizer.json, or a directory \
            holding one (tokenizer.json is preferred: it is what Wan's pipeline reads). Each file \
            is encoded exactly like the Python library that reads it. Ids end with </s>. \
            Use --clean to apply Wan's prompt cleaning first and --length to pad/truncate \
            as the text encoder does. TEXT "-" reads standard input (invalid UTF-8 becomes U+FFFD).
            """
    )

    @Option(name: [.customLong("tokenizer"), .customLong("tokenizer_path"), .customLong("tokenizer-path")],
            help: "spiece.model, tokenizer.json, or a directory holding one (default: \(TokenizerLocation.defaultDirectory)/).")
    var tokenizer: String?

    @Flag(help: "Also print each piece next to its id.")
    var pieces = false

    @Flag(help: "Apply Wan's prompt cleaning (ftfy, HTML unescape, whitespace) before tokenizing.")
    var clean = false

    @Option(help: "Pad with the pad id / truncate to this many ids and print the attention mask.")
    var length: Int?

    @Argument(help: "The text to tokenize (\"-\" reads standard input).")
    var text: String

    func validate() throws {
        if let length, length < 1 { throw ValidationError("--length must be at least 1") }
    }

    func run() throws {
        let tok: SentencePieceTokenizer
        do {
            tok = try TokenizerLocation.load(tokenizer)
        } catch {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
        var input = text
        if text == "-" {
            input = UTF8Repair.decode(StandardStreams.readInput())
        }
        if clean { input = WanTextCleaner.clean(input) }

        var out = ""
        do {
            if let length {
                let r = try tok.encode(input, length: length)
                out += r.ids.map(String.init).joined(separator: " ") + "\n"
                out += "mask " + r.attentionMask.map(String.init).joined(separator: " ") + "\n"
                if r.truncated {
                    StandardStreams.writeError("warning: the text needs \(r.realLength + r.droppedPieces) tokens; \(r.droppedPieces) were cut to fit \(length)\n")
                }
            } else {
                out += try tok.encode(input).map(String.init).joined(separator: " ") + "\n"
            }
            if pieces {
                for p in try tok.pieces(input) { out += "\(p.id)\t\(p.piece)\n" }
                out += "\(tok.eosID)\t</s>\n"
            }
        } catch {
            StandardStreams.writeError("error: \(error)\n")
            throw ExitCode(1)
        }
        StandardStreams.writeOutput(out)
    }
}
