#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// The normalizers of a tokenizer.json that SentencePiece-converted Unigram tokenizers use.
/// Others are refused when the file is loaded, naming the type.
indirect enum HFNormalizer {
    case sequence([HFNormalizer])
    /// nil: a Precompiled normalizer with an empty/null charsmap (does nothing).
    case precompiled(PrecompiledCharsmap?)
    case replace(HFPattern, [Unicode.Scalar])
    case strip(left: Bool, right: Bool)
    case prepend([Unicode.Scalar])
    case lowercase

    func normalize(_ text: inout HFNormalizedText) {
        switch self {
        case .sequence(let list):
            for n in list { n.normalize(&text) }
        case .precompiled(let map):
            if let map { Self.precompiled(map, &text) }
        case .replace(let pattern, let content):
            text.replace(matches: pattern.matches(in: text.scalars), with: content)
        case .strip(let left, let right):
            let leading = left ? (text.scalars.firstIndex { !isUnicodeWhiteSpace($0) } ?? text.scalars.count) : 0
            var trailing = 0
            if right {
                for s in text.scalars.reversed() {
                    guard isUnicodeWhiteSpace(s) else { break }
                    trailing += 1
                }
            }
            guard leading > 0 || trailing > 0 else { return }
            let keep = leading < text.scalars.count - trailing ? leading ..< text.scalars.count - trailing : leading ..< leading
            text.scalars = Array(text.scalars[keep])
            text.alignments = Array(text.alignments[keep])
        case .prepend(let prefix):
            text.prepend(prefix)
        case .lowercase:
            var dest: [(Unicode.Scalar, Int)] = []
            for s in text.scalars {
                let lower = Array(s.properties.lowercaseMapping.unicodeScalars)
                for (k, c) in lower.enumerated() { dest.append((c, k == 0 ? 0 : 1)) }
            }
            text.transform(dest, initialOffset: 0)
        }
    }

    /// Hugging Face's Precompiled normalizer (normalizers/precompiled.rs): per extended grapheme
    /// cluster shorter than 6 UTF-8 bytes, the first (shortest) rule that is a prefix of the
    /// WHOLE cluster replaces the whole cluster (so "ﬁ" + U+0301 becomes "fi", dropping the mark);
    /// otherwise each character is looked up on its own.
    private static func precompiled(_ map: PrecompiledCharsmap, _ text: inout HFNormalizedText) {
        var dest: [(Unicode.Scalar, Int)] = []
        dest.reserveCapacity(text.scalars.count)
        var modified = false
        func replace(oldCount: Int, with bytes: ArraySlice<UInt8>) {
            let new = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
            let diff = new.count - oldCount
            dest.append(contentsOf: new.map { ($0, 0) })
            if diff > 0 {
                for k in 0 ..< diff { dest[dest.count - 1 - k].1 = 1 }
            } else if diff < 0, !dest.isEmpty {
                dest[dest.count - 1].1 += diff
            }
        }
        for grapheme in text.string {
            let scalars = Array(grapheme.unicodeScalars)
            let bytes = Array(String(grapheme).utf8)
            if bytes.count < 6, let norm = map.firstMatch(bytes) {
                modified = true
                replace(oldCount: scalars.count, with: norm)
                continue
            }
            for s in scalars {
                if let norm = map.firstMatch(Array(UTF8.encode(s)!)) {
                    modified = true
                    replace(oldCount: 1, with: norm)
                } else {
                    dest.append((s, 0))
                }
            }
        }
        if modified { text.transform(dest, initialOffset: 0) }
    }
}

/// The `pattern` of a Replace normalizer: a literal string, or a regular expression
/// (Oniguruma in the reference; the standard library's `Regex` here, which agrees on the simple
/// patterns these files use such as " {2,}").
enum HFPattern {
    case string([Unicode.Scalar])
    case regex(Regex<AnyRegexOutput>)

    /// Non-overlapping matches, left to right, as character ranges.
    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .string(let needle):
            guard !needle.isEmpty, scalars.count >= needle.count else { return [] }
            var out: [Range<Int>] = []
            var i = 0
            while i + needle.count <= scalars.count {
                if scalars[i] == needle[0] && scalars[i ..< i + needle.count].elementsEqual(needle) {
                    out.append(i ..< i + needle.count)
                    i += needle.count
                } else {
                    i += 1
                }
            }
            return out
        case .regex(let re):
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let string = String(view)
            // Matched scalar by scalar (not by grapheme cluster), as the reference's engines do.
            return string.matches(of: re.matchingSemantics(.unicodeScalar)).compactMap { m in
                let lower = string.unicodeScalars.distance(from: string.startIndex, to: m.range.lowerBound)
                let count = string.unicodeScalars.distance(from: m.range.lowerBound, to: m.range.upperBound)
                return count > 0 ? lower ..< lower + count : nil
            }
        }
    }
}

/// Pre-tokenizers used with Unigram models.
indirect enum HFPreTokenizer {
    enum PrependScheme: String { case always, first, never }

    case sequence([HFPreTokenizer])
    case metaspace(replacement: Unicode.Scalar, scheme: PrependScheme, split: Bool)
    case whitespaceSplit

    func preTokenize(_ pieces: [HFNormalizedText]) -> [HFNormalizedText] {
        switch self {
        case .sequence(let list):
            return list.reduce(pieces) { $1.preTokenize($0) }
        case .whitespaceSplit:
            return pieces.flatMap { $0.split(mergeWithNext: false, where: isUnicodeWhiteSpace) }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { piece -> [HFNormalizedText] in
                var p = piece
                let spaces = p.scalars.indices.filter { p.scalars[$0] == " " }.map { $0 ..< $0 + 1 }
                p.replace(matches: spaces, with: [replacement])
                let startsWithReplacement = p.scalars.first == replacement
                switch scheme {
                case .always where !startsWithReplacement: p.prepend([replacement])
                case .first where !startsWithReplacement && p.originalShift == 0: p.prepend([replacement])
                default: break
                }
                if p.isEmpty { return [] }
                return split ? p.split(mergeWithNext: true) { $0 == replacement } : [p]
            }
        }
    }
}

/// One entry of tokenizer.json's `added_tokens`.
struct HFAddedToken {
    let id: Int32
    let content: String
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool
}

/// Rust regex's Unicode `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
func isRustWordCharacter(_ s: Unicode.Scalar) -> Bool {
    let p = s.properties
    if p.isAlphabetic || p.isJoinControl { return true }
    switch p.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}
