/// A stand-in for Hugging Face tokenizers' `NormalizedString`: the normalized characters plus,
/// for each, the byte range of the original text it came from, and the byte offset of this
/// piece's original text inside the whole input (`original_shift`).
///
/// We only need the alignments for one decision: Metaspace's `prepend_scheme: "first"` prepends
/// only to the piece whose original offset is 0. The alignment rules below follow
/// `NormalizedString::transform_range` so that pieces cut out later (WhitespaceSplit, Metaspace
/// splits, added tokens) get the same original offsets as in the reference.
struct HFNormalizedText {
    var scalars: [Unicode.Scalar]
    /// Per normalized character: original byte range, relative to this piece's original text.
    var alignments: [(start: Int, end: Int)]
    /// Offset of this piece's original text in the full input, in bytes.
    var originalShift: Int

    init(scalars: [Unicode.Scalar], originalShift: Int) {
        self.scalars = scalars
        var aligns: [(Int, Int)] = []
        aligns.reserveCapacity(scalars.count)
        var o = 0
        for s in scalars {
            let n = UTF8.width(s)
            aligns.append((o, o + n))
            o += n
        }
        self.alignments = aligns
        self.originalShift = originalShift
    }

    var isEmpty: Bool { scalars.isEmpty }

    var utf8: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(scalars.count)
        for s in scalars { out.append(contentsOf: UTF8.encode(s)!) }
        return out
    }

    var string: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// `transform(dest, initial_offset)` over the whole text. Each entry is a new character and
    /// its change: 0 replaces the next old character, +1 inserts (aligned like the previous old
    /// character), -n replaces the next old character and removes the n following ones.
    mutating func transform(_ dest: [(Unicode.Scalar, Int)], initialOffset: Int) {
        var offset = initialOffset
        var newScalars: [Unicode.Scalar] = []
        var newAligns: [(start: Int, end: Int)] = []
        newScalars.reserveCapacity(dest.count)
        newAligns.reserveCapacity(dest.count)
        let fallback = alignments.last.map { ($0.end, $0.end) } ?? (0, 0)
        for (c, change) in dest {
            let align: (Int, Int)
            if change > 0 {
                align = offset < 1 ? (0, 0) : (offset - 1 < alignments.count ? alignments[offset - 1] : fallback)
            } else {
                align = offset < alignments.count ? alignments[offset] : fallback
                offset += 1
                if change < 0 { offset += -change }
            }
            newScalars.append(c)
            newAligns.append(align)
        }
        scalars = newScalars
        alignments = newAligns
    }

    /// The piece `range` of this text as its own normalized text (`NormalizedString::slice`).
    func slice(_ range: Range<Int>) -> HFNormalizedText {
        let base = range.isEmpty ? (range.lowerBound < alignments.count ? alignments[range.lowerBound].start : (alignments.last?.end ?? 0))
                                 : alignments[range.lowerBound].start
        var piece = self
        piece.scalars = Array(scalars[range])
        piece.alignments = alignments[range].map { ($0.start - base, $0.end - base) }
        piece.originalShift = originalShift + base
        return piece
    }

    /// Replaces each match (character ranges, ascending, non-overlapping) by `content`; the new
    /// characters are aligned like the last character of the match (`NormalizedString::replace`).
    mutating func replace(matches: [Range<Int>], with content: [Unicode.Scalar]) {
        guard !matches.isEmpty else { return }
        var newScalars: [Unicode.Scalar] = []
        var newAligns: [(start: Int, end: Int)] = []
        var last = 0
        for m in matches {
            newScalars.append(contentsOf: scalars[last ..< m.lowerBound])
            newAligns.append(contentsOf: alignments[last ..< m.lowerBound])
            let align = m.isEmpty ? (m.lowerBound > 0 ? alignments[m.lowerBound - 1] : (0, 0)) : alignments[m.upperBound - 1]
            for c in content {
                newScalars.append(c)
                newAligns.append(align)
            }
            last = m.upperBound
        }
        newScalars.append(contentsOf: scalars[last...])
        newAligns.append(contentsOf: alignments[last...])
        scalars = newScalars
        alignments = newAligns
    }

    /// `NormalizedString::prepend`: nothing on an empty text; otherwise the new characters and
    /// the old first one all take the old first character's alignment.
    mutating func prepend(_ prefix: [Unicode.Scalar]) {
        guard !scalars.isEmpty, !prefix.isEmpty else { return }
        let a = alignments[0]
        scalars.insert(contentsOf: prefix, at: 0)
        alignments.insert(contentsOf: Array(repeating: a, count: prefix.count), at: 0)
    }

    /// Splits on characters for which `isDelimiter` holds.
    /// `mergeWithNext`: a delimiter starts the following piece (Metaspace); otherwise delimiters
    /// are removed (WhitespaceSplit). Empty pieces are dropped, as `PreTokenizedString::split` does.
    func split(mergeWithNext: Bool, where isDelimiter: (Unicode.Scalar) -> Bool) -> [HFNormalizedText] {
        var pieces: [HFNormalizedText] = []
        var start = 0
        for (i, c) in scalars.enumerated() where isDelimiter(c) {
            if mergeWithNext {
                if i > start { pieces.append(slice(start ..< i)) }
                start = i
            } else {
                if i > start { pieces.append(slice(start ..< i)) }
                start = i + 1
            }
        }
        if start < scalars.count { pieces.append(slice(start ..< scalars.count)) }
        return pieces
    }
}

/// Unicode White_Space, which Rust's `char::is_whitespace` and regex `\s` use.
@inline(__always) func isUnicodeWhiteSpace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09 ... 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000 ... 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
    default: false
    }
}
