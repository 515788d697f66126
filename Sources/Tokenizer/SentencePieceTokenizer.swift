#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// A fixed-length encoding of one prompt, as the text encoder consumes it.
public struct TokenizedText: Equatable, Sendable {
    /// `length` ids: the pieces, the end-of-sequence id, then padding.
    public let ids: [Int32]
    /// 1 for the real tokens (end-of-sequence included), 0 for padding.
    public let attentionMask: [Int32]
    /// Number of real tokens (the ones with mask 1).
    public let realLength: Int
    /// True when pieces were dropped to fit `length`; the caller should warn.
    public let truncated: Bool
    /// How many pieces were dropped.
    public let droppedPieces: Int
}

/// The umT5 text tokenizer: a SentencePiece unigram model read from either file the
/// google/umt5-xxl repository ships, encoding exactly as the library that reads that file:
/// - `spiece.model` (protobuf ModelProto): as the `sentencepiece` library;
/// - `tokenizer.json` (Hugging Face, Unigram model): as the `tokenizers` library, which is
///   what Wan's `HuggingfaceTokenizer` (transformers' AutoTokenizer) uses.
/// The two differ in places (byte fallback, added tokens, whitespace); see docs/tokenizer.md.
///
/// Immutable after loading (values only, compiled regular expressions included), so it is safe
/// to share between threads.
public final class SentencePieceTokenizer: @unchecked Sendable {
    public enum Format: String, Sendable {
        case sentencePieceModel = "SentencePiece model"
        case tokenizerJSON = "tokenizer.json"
    }

    private enum Engine {
        case sentencePiece(SentencePieceProcessor)
        case huggingFace(HuggingFaceTokenizer)
    }

    private let engine: Engine
    public let format: Format
    /// The file this tokenizer was read from ("" when built from memory).
    public let path: String
    public let eosID: Int32
    public let padID: Int32
    public let vocabSize: Int
    /// Wan pads/truncates prompts to 512 tokens (`text_len`).
    public static let defaultLength = 512

    /// Reads a tokenizer file; the format is recognised from the content, not the name.
    public convenience init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            if !FileManager.default.fileExists(atPath: path) {
                throw TokenizerError(.notFound, path: path, "no such file. \(TokenizerLocation.downloadHint)")
            }
            throw TokenizerError(.io, path: path, "cannot read the file: \(error)")
        }
        try self.init(data: data, path: path)
    }

    /// Builds a tokenizer from the bytes of a `spiece.model` or a `tokenizer.json`.
    public init(data: Data, path: String = "") throws {
        self.path = path
        do {
            if Self.looksLikeJSON(data) {
                let hf = try HuggingFaceTokenizerFile.parse(data)
                engine = .huggingFace(hf)
                format = .tokenizerJSON
                eosID = hf.template.compactMap { $0 }.last?.last ?? hf.model.trie.exactMatch(Array("</s>".utf8)) ?? 1
                padID = hf.model.trie.exactMatch(Array("<pad>".utf8)) ?? 0
                vocabSize = hf.vocabSize
            } else {
                let file: SentencePieceModelFile
                do {
                    file = try SentencePieceModelFile.parse([UInt8](data))
                } catch let e as TokenizerError where e.kind == .notATokenizer {
                    throw TokenizerError(.notATokenizer, "neither a SentencePiece model (spiece.model) nor a tokenizer.json (\(e.message))")
                }
                let sp = try SentencePieceProcessor(file)
                engine = .sentencePiece(sp)
                format = .sentencePieceModel
                eosID = sp.eosID
                padID = sp.padID
                vocabSize = sp.vocabSize
            }
        } catch let e as TokenizerError {
            throw e.at(path)
        }
    }

    /// JSON starts with "{" after optional whitespace or a byte-order mark; a ModelProto starts
    /// with field 1 or 2 (byte 0x0A or 0x12).
    private static func looksLikeJSON(_ data: Data) -> Bool {
        var i = data.startIndex
        if data.count >= 3, data[i] == 0xEF, data[i + 1] == 0xBB, data[i + 2] == 0xBF { i += 3 }
        while i < data.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(data[i]) { i += 1 }
        return i < data.endIndex && (data[i] == UInt8(ascii: "{") || data[i] == UInt8(ascii: "["))
    }

    /// The pieces of `text` without any special token.
    public func pieces(_ text: String) throws -> [EncodedPiece] {
        switch engine {
        case .sentencePiece(let sp): return sp.encode(text)
        case .huggingFace(let hf): return try hf.encodeSequence(text)
        }
    }

    /// Special ids around the pieces: (before, after). T5: ([], [</s>]).
    private var specials: (before: [Int32], after: [Int32]) {
        switch engine {
        case .sentencePiece: return ([], [eosID])
        case .huggingFace(let hf):
            guard let seq = hf.template.firstIndex(where: { $0 == nil }) else {
                return (hf.template.compactMap { $0 }.flatMap { $0 }, [])
            }
            return (hf.template[..<seq].compactMap { $0 }.flatMap { $0 }, hf.template[(seq + 1)...].compactMap { $0 }.flatMap { $0 })
        }
    }

    /// The ids of `text` as the reference tokenizer call returns them, unpadded: the pieces
    /// followed by `</s>` (for tokenizer.json: its post-processor template).
    public func encode(_ text: String) throws -> [Int32] {
        let s = specials
        return s.before + (try pieces(text).map(\.id)) + s.after
    }

    /// Encodes to exactly `length` ids: pieces (cut to make room for the special tokens),
    /// `</s>`, then `padID` up to `length`, like `tokenizer(text, padding="max_length",
    /// truncation=True, max_length=length)`.
    public func encode(_ text: String, length: Int) throws -> TokenizedText {
        let s = specials
        let room = length - s.before.count - s.after.count
        guard room >= 0 else {
            throw TokenizerError(.invalidArgument, "length \(length) leaves no room for the \(s.before.count + s.after.count) special tokens")
        }
        let all = try pieces(text).map(\.id)
        let kept = all.prefix(room)
        let real = s.before + kept + s.after
        let pad = length - real.count
        return TokenizedText(ids: real + [Int32](repeating: padID, count: pad),
                             attentionMask: [Int32](repeating: 1, count: real.count) + [Int32](repeating: 0, count: pad),
                             realLength: real.count, truncated: all.count > room, droppedPieces: all.count - kept.count)
    }

    /// What Wan's text encoder sees for a prompt: `HuggingfaceTokenizer(seq_len=length,
    /// clean='whitespace')`, i.e. `WanTextCleaner.clean` then `encode(_:length:)`.
    public func encodeWanPrompt(_ prompt: String, length: Int = defaultLength) throws -> TokenizedText {
        try encode(WanTextCleaner.clean(prompt), length: length)
    }

    /// `encode(_:length:)` for raw bytes: invalid UTF-8 is replaced by U+FFFD first, exactly as
    /// Python's `bytes.decode("utf-8", errors="replace")` does.
    public func encode(bytes: [UInt8], length: Int) throws -> TokenizedText {
        try encode(UTF8Repair.decode(bytes), length: length)
    }
}
