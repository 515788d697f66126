/// One piece of an encoding: its id and its text (for byte-fallback pieces "<0xNN>").
public struct EncodedPiece: Equatable, Sendable {
    public let id: Int32
    public let piece: String
}

/// sentencepiece's unigram encoder (`Model::EncodeOptimized` in unigram_model.cc, the default
/// encoder) plus the unknown-piece handling of `PopulateSentencePieceText`.
///
/// Best path over UTF-8 byte positions. Pitfalls reproduced on purpose:
/// - path scores are float32 sums, compared in float32. (Read literally, the C++ source forms
///   the candidate in double because of the `- 0.1` of the user-defined bonus; the shipped
///   library rounds to float first: float sums reproduce every fixture string, a double
///   candidate flips a tie on one of them, "的的的" with the identity model);
/// - ties keep the first candidate: start positions left to right, pieces shortest first,
///   then the unknown node (score min_score - 10, min/max over NORMAL pieces only, max starts
///   at FLT_MIN) when no piece covers exactly one character;
/// - user-defined pieces score `length_in_bytes * max_score - 0.1`; UNUSED pieces are skipped;
/// - an unknown piece becomes its UTF-8 bytes as <0xNN> pieces with byte fallback, otherwise
///   runs of unknown pieces merge into one unknown id.
struct SentencePieceUnigram: Sendable {
    let trie: PieceTrie
    let pieces: [String]
    let scores: [Float]
    let types: [SentencePieceModelFile.PieceType]
    let unkID: Int32
    let minScore: Float
    let maxScore: Float
    let byteFallback: Bool
    /// id of "<0xNN>" for each byte (byte fallback only).
    let byteIDs: [Int32]

    func encode(_ normalized: [UInt8]) -> [EncodedPiece] {
        let n = normalized.count
        guard n > 0 else { return [] }
        var best = [Float](repeating: 0, count: n + 1)
        var startsAt = [Int](repeating: -1, count: n + 1)
        var ids = [Int32](repeating: -1, count: n + 1)
        let unkScore: Float = minScore - 10
        normalized.withUnsafeBufferPointer { s in
            var start = 0
            while start < n {
                let tillHere = best[start]
                let mblen = min(SentencePieceNormalizer.oneCharLength(s[start]), n - start)
                var hasSingleNode = false
                trie.commonPrefixSearch(s, from: start, to: n) { id, length in
                    let type = types[Int(id)]
                    if type == .unused { return }
                    let score: Float = type == .userDefined
                        ? Float(Double(Float(length) * maxScore) - 0.1)
                        : scores[Int(id)]
                    let candidate = score + tillHere
                    let target = start + length
                    if startsAt[target] == -1 || candidate > best[target] {
                        best[target] = candidate
                        startsAt[target] = start
                        ids[target] = id
                    }
                    if length == mblen { hasSingleNode = true }
                }
                if !hasSingleNode {
                    let target = start + mblen
                    let candidate: Float = unkScore + tillHere
                    if startsAt[target] == -1 || candidate > best[target] {
                        best[target] = candidate
                        startsAt[target] = start
                        ids[target] = unkID
                    }
                }
                start += mblen
            }
        }
        var path: [(Int, Int, Int32)] = []
        var end = n
        while end > 0 {
            let s = startsAt[end]
            path.append((s, end, ids[end]))
            end = s
        }
        path.reverse()

        var out: [EncodedPiece] = []
        var prevUnknown = false
        for (s, e, id) in path {
            let isUnknown = types[Int(id)] == .unknown
            if isUnknown && byteFallback {
                for b in normalized[s ..< e] {
                    out.append(EncodedPiece(id: byteIDs[Int(b)], piece: Self.bytePiece(b)))
                }
            } else if isUnknown && prevUnknown, let last = out.popLast() {
                out.append(EncodedPiece(id: last.id, piece: last.piece + String(decoding: normalized[s ..< e], as: UTF8.self)))
            } else {
                out.append(EncodedPiece(id: id, piece: isUnknown ? String(decoding: normalized[s ..< e], as: UTF8.self) : pieces[Int(id)]))
            }
            prevUnknown = isUnknown
        }
        return out
    }

    static func bytePiece(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])>"
    }
}

/// Hugging Face tokenizers' `Unigram` model (models/unigram/model.rs, `encode_optimized` and
/// `tokenize`): the same best-path search but in float64, over EVERY vocabulary entry (control,
/// byte and unknown pieces included), min_score over the whole vocabulary, no user-defined
/// bonus (those are added tokens, split off earlier). Runs of unknown nodes are fused into one
/// string, which is then looked up as a token, else turned into <0xNN> pieces when byte
/// fallback is on and all of them exist, else the unknown id.
struct HuggingFaceUnigram: Sendable {
    let trie: PieceTrie
    let tokens: [String]
    let scores: [Double]
    let unkID: Int32?
    let minScore: Double
    let byteFallback: Bool

    func tokenize(_ text: [UInt8]) throws -> [EncodedPiece] {
        let n = text.count
        guard n > 0 else { return [] }
        var best = [Double](repeating: 0, count: n + 1)
        var startsAt = [Int](repeating: -1, count: n + 1)
        var ids = [Int32](repeating: 0, count: n + 1)
        let unkScore = minScore - 10
        var missingUnk = false
        text.withUnsafeBufferPointer { s in
            var start = 0
            while start < n {
                let tillHere = best[start]
                let mblen = min(SentencePieceNormalizer.oneCharLength(s[start]), n - start)
                var hasSingleNode = false
                trie.commonPrefixSearch(s, from: start, to: n) { id, length in
                    let candidate = scores[Int(id)] + tillHere
                    let target = start + length
                    if startsAt[target] == -1 || candidate > best[target] {
                        best[target] = candidate
                        startsAt[target] = start
                        ids[target] = id
                    }
                    if length == mblen { hasSingleNode = true }
                }
                if !hasSingleNode {
                    let target = start + mblen
                    let candidate = unkScore + tillHere
                    if startsAt[target] == -1 || candidate > best[target] {
                        best[target] = candidate
                        startsAt[target] = start
                        if let unkID { ids[target] = unkID } else { missingUnk = true }
                    }
                }
                start += mblen
            }
        }
        if missingUnk {
            throw TokenizerError(.unsupported, "the text has a character outside the vocabulary and the Unigram model has no unk_id")
        }
        // Backtrack, fusing adjacent unknown nodes.
        var strings: [ArraySlice<UInt8>] = []
        var end = n
        var fusedEnd = -1
        while end > 0 {
            let s = startsAt[end]
            if let unkID, ids[end] == unkID {
                if fusedEnd < 0 { fusedEnd = end }
            } else {
                if fusedEnd >= 0 { strings.append(text[end ..< fusedEnd]); fusedEnd = -1 }
                strings.append(text[s ..< end])
            }
            end = s
        }
        if fusedEnd >= 0 { strings.append(text[0 ..< fusedEnd]) }
        strings.reverse()

        var out: [EncodedPiece] = []
        for bytes in strings {
            if let id = trie.exactMatch(Array(bytes)) {
                out.append(EncodedPiece(id: id, piece: tokens[Int(id)]))
                continue
            }
            if byteFallback {
                let byteTokens = bytes.map { trie.exactMatch(Array(SentencePieceUnigram.bytePiece($0).utf8)) }
                if byteTokens.allSatisfy({ $0 != nil }) {
                    for (b, id) in zip(bytes, byteTokens) {
                        out.append(EncodedPiece(id: id!, piece: SentencePieceUnigram.bytePiece(b)))
                    }
                    continue
                }
            }
            guard let unkID else {
                throw TokenizerError(.unsupported, "the Unigram model has no unk_id for an unknown piece")
            }
            out.append(EncodedPiece(id: unkID, piece: String(decoding: bytes, as: UTF8.self)))
        }
        return out
    }
}
