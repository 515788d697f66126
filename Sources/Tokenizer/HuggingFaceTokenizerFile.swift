#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Reads a Hugging Face `tokenizer.json` into a `HuggingFaceTokenizer`. Only the components
/// that SentencePiece-derived Unigram tokenizers use are accepted; anything else is refused
/// with its name, so a tokenizer is never silently encoded differently from the reference.
enum HuggingFaceTokenizerFile {
    static func parse(_ data: Data) throws -> HuggingFaceTokenizer {
        let root: JSONValue
        do {
            root = try JSONValue.parse([UInt8](data))
        } catch let e as TokenizerError {
            throw TokenizerError(.notATokenizer, "not a tokenizer.json: \(e.message)")
        }
        guard let top = root.object else {
            throw TokenizerError(.notATokenizer, "not a tokenizer.json: the JSON is not an object")
        }
        guard let model = top["model"]?.object else {
            throw TokenizerError(.notATokenizer, "not a tokenizer.json: no \"model\" object (expected a Unigram model)")
        }
        let type = model["type"]?.string
        guard type == "Unigram" || (type == nil && model["vocab"]?.array != nil && model["merges"] == nil) else {
            throw TokenizerError(.notATokenizer,
                                 "tokenizer.json holds a \(type ?? "untyped") model; only Unigram (SentencePiece) tokenizers such as umT5's are supported")
        }
        let unigram = try parseUnigram(model)
        let normalizer = try top["normalizer"].flatMap { $0.isNull ? nil : try parseNormalizer($0) }
        let preTokenizer = try top["pre_tokenizer"].flatMap { $0.isNull ? nil : try parsePreTokenizer($0) }
        let added = try parseAddedTokens(top["added_tokens"], model: unigram)
        let template = try parseTemplate(top["post_processor"])
        return HuggingFaceTokenizer(model: unigram, normalizer: normalizer, preTokenizer: preTokenizer,
                                    addedTokens: added, template: template)
    }

    private static func parseUnigram(_ model: [String: JSONValue]) throws -> HuggingFaceUnigram {
        guard let vocab = model["vocab"]?.array, !vocab.isEmpty else {
            throw TokenizerError(.corrupt, "the Unigram model has no vocabulary")
        }
        var tokens: [String] = []
        var scores: [Double] = []
        tokens.reserveCapacity(vocab.count)
        scores.reserveCapacity(vocab.count)
        for (i, entry) in vocab.enumerated() {
            guard let pair = entry.array, pair.count == 2, let token = pair[0].string, let score = pair[1].double else {
                throw TokenizerError(.corrupt, "vocabulary entry \(i) is not a [token, score] pair")
            }
            tokens.append(token)
            scores.append(score)
        }
        var unkID: Int32?
        if let u = model["unk_id"], !u.isNull {
            guard let n = u.int, n >= 0, n < tokens.count else {
                throw TokenizerError(.corrupt, "unk_id \(u.double.map { "\($0)" } ?? "?") is not an id of the \(tokens.count)-token vocabulary")
            }
            unkID = Int32(n)
        }
        let byteFallback = model["byte_fallback"]?.bool ?? false
        let entries = tokens.enumerated().map { (key: Array($0.element.utf8), value: Int32($0.offset)) }
        return HuggingFaceUnigram(trie: PieceTrie(entries, stopsAtNUL: false), tokens: tokens, scores: scores,
                                  unkID: unkID, minScore: scores.min() ?? 0, byteFallback: byteFallback)
    }

    private static func object(_ x: JSONValue, _ what: String) throws -> ([String: JSONValue], String) {
        guard let o = x.object, let type = o["type"]?.string else {
            throw TokenizerError(.corrupt, "\(what) is not an object with a \"type\"")
        }
        return (o, type)
    }

    private static func scalars(_ x: JSONValue?, _ what: String) throws -> [Unicode.Scalar] {
        guard let s = x?.string else { throw TokenizerError(.corrupt, "\(what) is not a string") }
        return Array(s.unicodeScalars)
    }

    static func parseNormalizer(_ x: JSONValue) throws -> HFNormalizer {
        let (o, type) = try object(x, "normalizer")
        switch type {
        case "Sequence":
            guard let list = o["normalizers"]?.array else { throw TokenizerError(.corrupt, "Sequence normalizer without \"normalizers\"") }
            return .sequence(try list.map(parseNormalizer))
        case "Precompiled":
            guard let b64 = o["precompiled_charsmap"]?.string, !b64.isEmpty else { return .precompiled(nil) }
            guard let blob = Data(base64Encoded: b64) else {
                throw TokenizerError(.corrupt, "Precompiled normalizer: precompiled_charsmap is not base64")
            }
            return .precompiled(try PrecompiledCharsmap(blob: [UInt8](blob)))
        case "Replace":
            let content = try scalars(o["content"], "Replace normalizer content")
            guard let pattern = o["pattern"]?.object else { throw TokenizerError(.corrupt, "Replace normalizer without a pattern") }
            if let s = pattern["String"]?.string { return .replace(.string(Array(s.unicodeScalars)), content) }
            if let r = pattern["Regex"]?.string {
                do {
                    return .replace(.regex(try Regex(r)), content)
                } catch {
                    throw TokenizerError(.unsupported, "Replace normalizer: cannot compile the regular expression \(r)")
                }
            }
            throw TokenizerError(.unsupported, "Replace normalizer pattern \(pattern.keys.sorted()) (expected String or Regex)")
        case "Strip":
            return .strip(left: o["strip_left"]?.bool ?? false, right: o["strip_right"]?.bool ?? false)
        case "Prepend":
            return .prepend(try scalars(o["prepend"], "Prepend normalizer"))
        case "Lowercase":
            return .lowercase
        default:
            throw TokenizerError(.unsupported, "normalizer \(type) is not supported (SentencePiece tokenizers use Precompiled, Replace, Strip, Prepend)")
        }
    }

    static func parsePreTokenizer(_ x: JSONValue) throws -> HFPreTokenizer {
        let (o, type) = try object(x, "pre_tokenizer")
        switch type {
        case "Sequence":
            guard let list = o["pretokenizers"]?.array else { throw TokenizerError(.corrupt, "Sequence pre_tokenizer without \"pretokenizers\"") }
            return .sequence(try list.map(parsePreTokenizer))
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "Metaspace":
            let rep = try scalars(o["replacement"], "Metaspace replacement")
            guard rep.count == 1 else { throw TokenizerError(.corrupt, "Metaspace replacement must be one character") }
            var scheme = HFPreTokenizer.PrependScheme.always
            if let s = o["prepend_scheme"]?.string {
                guard let parsed = HFPreTokenizer.PrependScheme(rawValue: s) else {
                    throw TokenizerError(.unsupported, "Metaspace prepend_scheme \(s)")
                }
                scheme = parsed
            }
            if let add = o["add_prefix_space"]?.bool, !add {
                if o["prepend_scheme"]?.string != nil && scheme != .never {
                    throw TokenizerError(.corrupt, "Metaspace: add_prefix_space false contradicts prepend_scheme \(scheme.rawValue)")
                }
                scheme = .never
            }
            return .metaspace(replacement: rep[0], scheme: scheme, split: o["split"]?.bool ?? true)
        default:
            throw TokenizerError(.unsupported, "pre_tokenizer \(type) is not supported (SentencePiece tokenizers use Metaspace, WhitespaceSplit)")
        }
    }

    /// Added tokens take the model's id for their content when the vocabulary has it (what the
    /// library does when it re-adds them on load), else the id written in the file.
    private static func parseAddedTokens(_ x: JSONValue?, model: HuggingFaceUnigram) throws -> [HFAddedToken] {
        guard let list = x?.array else { return [] }
        return try list.enumerated().map { i, e in
            guard let o = e.object, let content = o["content"]?.string, let id = o["id"]?.int else {
                throw TokenizerError(.corrupt, "added_tokens[\(i)] lacks content or id")
            }
            let modelID = model.trie.exactMatch(Array(content.utf8))
            let special = o["special"]?.bool ?? false
            return HFAddedToken(id: modelID ?? Int32(id), content: content,
                                singleWord: o["single_word"]?.bool ?? false,
                                lstrip: o["lstrip"]?.bool ?? false, rstrip: o["rstrip"]?.bool ?? false,
                                normalized: o["normalized"]?.bool ?? !special)
        }
    }

    /// The single-sequence template of a TemplateProcessing post-processor; nil entries stand
    /// for the sequence. No post-processor: the sequence alone.
    private static func parseTemplate(_ x: JSONValue?) throws -> [[Int32]?] {
        guard let x, !x.isNull else { return [nil] }
        let (o, type) = try object(x, "post_processor")
        guard type == "TemplateProcessing" else {
            throw TokenizerError(.unsupported, "post_processor \(type) is not supported (T5 uses TemplateProcessing)")
        }
        let specials = o["special_tokens"]?.object ?? [:]
        func ids(of name: String) throws -> [Int32] {
            if let ids = specials[name]?["ids"]?.array, ids.allSatisfy({ $0.int != nil }) {
                return ids.map { Int32($0.int!) }
            }
            throw TokenizerError(.corrupt, "TemplateProcessing uses special token \(name) without ids")
        }
        var items: [JSONValue] = []
        if let list = o["single"]?.array {
            items = list
        } else if let s = o["single"]?.string {
            items = s.split(separator: " ").map { .string(String($0)) }
        } else {
            throw TokenizerError(.corrupt, "TemplateProcessing without a single template")
        }
        return try items.map { item -> [Int32]? in
            if let s = item.string {
                let name = s.split(separator: ":").first.map(String.init) ?? s
                return name.hasPrefix("$") ? nil : try ids(of: name)
            }
            guard let d = item.object else { throw TokenizerError(.corrupt, "bad TemplateProcessing item") }
            if d["Sequence"] != nil { return nil }
            if let name = d["SpecialToken"]?["id"]?.string { return try ids(of: name) }
            throw TokenizerError(.corrupt, "bad TemplateProcessing item \(d.keys.sorted())")
        }
    }
}
