#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// A Hugging Face `tokenizer.json` holding a Unigram model, encoded the way the `tokenizers`
/// library does it (tokenizer/mod.rs `encode_single_sequence`):
/// 1. added tokens with `normalized: false` are split off the raw text (leftmost-longest match;
///    `single_word`, `lstrip`, `rstrip` honoured);
/// 2. every other piece is normalized on its own, then added tokens with `normalized: true`
///    are split off the normalized text;
/// 3. the pre-tokenizer cuts the pieces (Metaspace / WhitespaceSplit);
/// 4. the Unigram model encodes each piece;
/// 5. the post-processor's single template adds special tokens (T5: `$A </s>`).
/// The file's own `truncation`/`padding` settings are ignored: callers pass a length.
struct HuggingFaceTokenizer {
    let model: HuggingFaceUnigram
    let normalizer: HFNormalizer?
    let preTokenizer: HFPreTokenizer?
    let addedTokens: [HFAddedToken]
    private let rawTrie: PieceTrie?         // added tokens matched on the raw text
    private let normalizedTrie: PieceTrie?  // added tokens matched on normalized text
    /// The single-sequence template: nil entries stand for the sequence itself.
    let template: [[Int32]?]
    let vocabSize: Int

    init(model: HuggingFaceUnigram, normalizer: HFNormalizer?, preTokenizer: HFPreTokenizer?,
         addedTokens: [HFAddedToken], template: [[Int32]?]) {
        self.model = model
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.addedTokens = addedTokens
        self.template = template
        self.vocabSize = model.tokens.count
        var raw: [(key: [UInt8], value: Int32)] = []
        var norm: [(key: [UInt8], value: Int32)] = []
        for (i, t) in addedTokens.enumerated() where !t.content.isEmpty {
            if t.normalized {
                var text = HFNormalizedText(scalars: Array(t.content.unicodeScalars), originalShift: 0)
                normalizer?.normalize(&text)
                if !text.isEmpty { norm.append((text.utf8, Int32(i))) }
            } else {
                raw.append((Array(t.content.utf8), Int32(i)))
            }
        }
        rawTrie = raw.isEmpty ? nil : PieceTrie(raw, stopsAtNUL: false)
        normalizedTrie = norm.isEmpty ? nil : PieceTrie(norm, stopsAtNUL: false)
    }

    /// Number of special tokens the template adds around one sequence.
    var addedSpecialCount: Int { template.reduce(0) { $0 + ($1?.count ?? 0) } }

    /// The pieces of `text` before the post-processor.
    func encodeSequence(_ text: String) throws -> [EncodedPiece] {
        let whole = HFNormalizedText(scalars: Array(text.unicodeScalars), originalShift: 0)
        var out: [EncodedPiece] = []
        for part in split(whole, trie: rawTrie) {
            switch part {
            case .token(let i):
                out.append(EncodedPiece(id: addedTokens[i].id, piece: addedTokens[i].content))
            case .text(var piece):
                normalizer?.normalize(&piece)
                for sub in split(piece, trie: normalizedTrie) {
                    switch sub {
                    case .token(let i):
                        out.append(EncodedPiece(id: addedTokens[i].id, piece: addedTokens[i].content))
                    case .text(let normalized):
                        let words = preTokenizer?.preTokenize([normalized]) ?? [normalized]
                        for w in words { out.append(contentsOf: try model.tokenize(w.utf8)) }
                    }
                }
            }
        }
        return out
    }

    private enum Part { case token(Int), text(HFNormalizedText) }

    /// `AddedVocabulary::find_matches` + `split_with_indices`; empty text pieces are dropped.
    private func split(_ text: HFNormalizedText, trie: PieceTrie?) -> [Part] {
        guard let trie, !text.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        // Match on UTF-8 bytes; remember which character each byte starts.
        var bytes: [UInt8] = []
        var charAt: [Int] = []  // byte offset -> character index (count at the end)
        for (k, s) in text.scalars.enumerated() {
            for b in UTF8.encode(s)! { bytes.append(b); charAt.append(k) }
        }
        charAt.append(text.scalars.count)
        let scalars = text.scalars
        var parts: [Part] = []
        var startOffset = 0  // in characters
        var p = 0
        bytes.withUnsafeBufferPointer { buf in
            while p < buf.count {
                var best: (Int32, Int)?
                trie.commonPrefixSearch(buf, from: p, to: buf.count) { v, length in best = (v, length) }
                guard let (index, length) = best else { p += 1; continue }
                let token = addedTokens[Int(index)]
                var start = charAt[p]
                var stop = charAt[p + length]
                p += length
                if token.singleWord {
                    let startSpace = start == 0 || !isRustWordCharacter(scalars[start - 1])
                    let stopSpace = stop == scalars.count || !isRustWordCharacter(scalars[stop])
                    if !startSpace || !stopSpace { continue }
                }
                if token.lstrip {
                    var s = start
                    while s > 0 && isUnicodeWhiteSpace(scalars[s - 1]) { s -= 1 }
                    start = max(s, startOffset)
                }
                if token.rstrip {
                    // The search itself resumes at the end of the match, as in the reference.
                    while stop < scalars.count && isUnicodeWhiteSpace(scalars[stop]) { stop += 1 }
                }
                if startOffset < start { parts.append(.text(text.slice(startOffset ..< start))) }
                parts.append(.token(Int(index)))
                startOffset = stop
            }
        }
        if startOffset < scalars.count { parts.append(.text(text.slice(startOffset ..< scalars.count))) }
        return parts
    }
}
