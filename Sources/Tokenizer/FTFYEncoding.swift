/// ftfy 6.3.1's mojibake repair (`fix_encoding` and its helpers), on Unicode scalars.
/// The data (codec tables, character classes) is generated from the Python package by
/// scripts/reference/gen_text_tables.py; the logic below follows ftfy/__init__.py,
/// ftfy/fixes.py, ftfy/chardata.py and ftfy/bad_codecs step by step.
enum FTFYEncoding {
    typealias Text = [Unicode.Scalar]

    // MARK: character sets

    struct CharSet {
        let ranges: [UInt32]  // [lo0, hi0, lo1, hi1, ...] sorted
        func contains(_ s: Unicode.Scalar) -> Bool {
            let v = s.value
            var lo = 0, hi = ranges.count / 2
            while lo < hi {
                let m = (lo + hi) >> 1
                if ranges[2 * m + 1] < v { lo = m + 1 } else { hi = m }
            }
            return lo < ranges.count / 2 && ranges[2 * lo] <= v
        }
    }

    static let sets: [CharSet] = FTFYData.sets.map(CharSet.init)

    // MARK: single-byte codecs

    struct Charmap {
        let name: String
        let decode: [Unicode.Scalar]  // 256
        let encode: [Unicode.Scalar: UInt8]
        var isSloppy: Bool { name.hasPrefix("sloppy") }
    }

    static let charmaps: [Charmap] = FTFYData.charmapNames.enumerated().map { k, name in
        let table = FTFYData.charmaps[256 * k ..< 256 * (k + 1)].map { Unicode.Scalar($0)! }
        var enc: [Unicode.Scalar: UInt8] = [:]
        for (b, s) in table.enumerated() { enc[s] = UInt8(b) }
        return Charmap(name: name, decode: table, encode: enc)
    }

    static let sloppy1252 = charmaps.first { $0.name == "sloppy-windows-1252" }!

    /// `possible_encoding` + `str.encode`: the bytes of `text` in `map`, or nil.
    static func encode(_ text: Text, _ map: Charmap) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for s in text {
            guard let b = map.encode[s] else { return nil }
            out.append(b)
        }
        return out
    }

    /// ftfy's "utf-8-variants" codec, strict: UTF-8, plus Java's C0 80 for U+0000 and CESU-8
    /// surrogate pairs (ED A0-AF xx ED B0-BF xx). Any other error → nil (UnicodeDecodeError).
    static func decodeUTF8Variants(_ b: [UInt8]) -> Text? {
        var out: Text = []
        var i = 0
        let n = b.count
        func cont(_ k: Int) -> Bool { k < n && b[k] & 0xC0 == 0x80 }
        while i < n {
            let c = b[i]
            if c < 0x80 { out.append(Unicode.Scalar(c)); i += 1; continue }
            if c == 0xC0, i + 1 < n, b[i + 1] == 0x80 { out.append("\u{0}"); i += 2; continue }
            if c == 0xED, i + 5 < n, (0xA0 ... 0xAF).contains(b[i + 1]), cont(i + 2), b[i + 3] == 0xED,
               (0xB0 ... 0xBF).contains(b[i + 4]), cont(i + 5) {
                let v = (UInt32(b[i + 1] & 0x0F) << 16) + (UInt32(b[i + 2] & 0x3F) << 10)
                    + (UInt32(b[i + 4] & 0x0F) << 6) + UInt32(b[i + 5] & 0x3F) + 0x10000
                out.append(Unicode.Scalar(v)!)
                i += 6
                continue
            }
            var v: UInt32
            let need: Int
            switch c {
            case 0xC2 ... 0xDF: need = 1; v = UInt32(c & 0x1F)
            case 0xE0 ... 0xEF: need = 2; v = UInt32(c & 0x0F)
            case 0xF0 ... 0xF4: need = 3; v = UInt32(c & 0x07)
            default: return nil
            }
            guard (1 ... need).allSatisfy({ cont(i + $0) }) else { return nil }
            for k in 1 ... need { v = v << 6 | UInt32(b[i + k] & 0x3F) }
            let minimum: UInt32 = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000
            guard v >= minimum, v <= 0x10FFFF, !(0xD800 ... 0xDFFF).contains(v) else { return nil }
            out.append(Unicode.Scalar(v)!)
            i += need + 1
        }
        return out
    }

    // MARK: byte-level regexes (fixed-length alternatives, leftmost then first alternative)

    typealias ByteClass = @Sendable (UInt8) -> Bool

    static func byteSub(_ bytes: [UInt8], _ alternatives: [[ByteClass]], _ replace: (ArraySlice<UInt8>) -> [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        scan: while i < bytes.count {
            for alt in alternatives where i + alt.count <= bytes.count {
                if alt.indices.allSatisfy({ alt[$0](bytes[i + $0]) }) {
                    out.append(contentsOf: replace(bytes[i ..< i + alt.count]))
                    i += alt.count
                    continue scan
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return out
    }

    static func byteSearch(_ bytes: [UInt8], _ alternatives: [[ByteClass]]) -> Bool {
        for i in bytes.indices {
            for alt in alternatives where i + alt.count <= bytes.count {
                if alt.indices.allSatisfy({ alt[$0](bytes[i + $0]) }) { return true }
            }
        }
        return false
    }

    private static func any(_ r: ClosedRange<UInt8>...) -> ByteClass { { b in r.contains { $0.contains(b) } } }
    private static func one(_ v: UInt8...) -> ByteClass { { v.contains($0) } }

    /// `chardata.ALTERED_UTF8_RE`: UTF-8 sequences whose 0xA0 byte became a space.
    static let alteredUTF8: [[ByteClass]] = {
        let cont1 = any(0x80 ... 0x84, 0x86 ... 0x9F, 0xA1 ... 0xBF)
        let sp = one(0x20)
        let cont = any(0x80 ... 0xBF)
        return [
            [one(0xC2, 0xC3, 0xC5, 0xCE, 0xD0, 0xD9), sp],
            [one(0xE2, 0xE3), sp, cont1],
            [any(0xE0 ... 0xE3), cont1, sp],
            [one(0xF0), sp, cont, cont],
            [one(0xF0), cont, sp, cont],
            [one(0xF0), cont, cont, sp],
        ]
    }()

    /// `chardata.LOSSY_UTF8_RE`: UTF-8 sequences with bytes lost to 0x1A or '?'.
    static let lossyUTF8: [[ByteClass]] = {
        let sub = one(0x1A), subQ = one(0x1A, 0x3F)
        let subCont: ByteClass = { (b: UInt8) in b == 0x1A || (0x80 ... 0xBF).contains(b) }
        let subQCont: ByteClass = { (b: UInt8) in b == 0x1A || b == 0x3F || (0x80 ... 0xBF).contains(b) }
        let ed = one(0xED)
        return [
            [any(0xC2 ... 0xDF), sub],
            [any(0xC2 ... 0xC3), one(0x3F)],
            [ed, any(0xA0 ... 0xAF), subQ, ed, any(0xB0 ... 0xBF), subQCont],
            [ed, any(0xA0 ... 0xAF), subQCont, ed, any(0xB0 ... 0xBF), subQ],
            [any(0xE0 ... 0xEF), subQ, subCont],
            [any(0xE0 ... 0xEF), subCont, subQ],
            [any(0xF0 ... 0xF4), subQ, subCont, subCont],
            [any(0xF0 ... 0xF4), subCont, subQ, subCont],
            [any(0xF0 ... 0xF4), subCont, subCont, subQ],
            [sub],
        ]
    }()

    /// `fixes.restore_byte_a0`: first "Ã " standing alone (not before " ", "quele", "quela",
    /// "quilo", "s ") gets its 0xA0 back, then every ALTERED_UTF8_RE match has its spaces → 0xA0.
    static func restoreByteA0(_ bytes: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        var i = 0
        let exceptions: [[UInt8]] = [[0x20], Array("quele".utf8), Array("quela".utf8), Array("quilo".utf8), Array("s ".utf8)]
        while i < bytes.count {
            if bytes[i] == 0xC3, i + 1 < bytes.count, bytes[i + 1] == 0x20,
               !exceptions.contains(where: { bytes[(i + 2)...].starts(with: $0) }) {
                b += [0xC3, 0xA0, 0x20]
                i += 2
            } else {
                b.append(bytes[i])
                i += 1
            }
        }
        return byteSub(b, alteredUTF8) { m in m.map { $0 == 0x20 ? 0xA0 : $0 } }
    }

    // MARK: badness heuristic

    /// `badness.is_bad`: does any BADNESS_RE alternative match somewhere in `text`?
    static func isBad(_ text: Text) -> Bool {
        for start in 0 ... text.count {
            for alt in FTFYData.badnessAlternatives where matches(alt, 0, text, start) { return true }
        }
        return false
    }

    private static func matches(_ alt: [Int], _ k: Int, _ text: Text, _ pos: Int) -> Bool {
        if k == alt.count { return true }
        let e = alt[k]
        if e == -1 { return pos == 0 && matches(alt, k + 1, text, pos) }
        if e >= 100_000 {
            if pos < text.count, sets[e - 100_000].contains(text[pos]), matches(alt, k + 1, text, pos + 1) { return true }
            return matches(alt, k + 1, text, pos)
        }
        return pos < text.count && sets[e].contains(text[pos]) && matches(alt, k + 1, text, pos + 1)
    }

    // MARK: fix_encoding

    /// `ftfy.fix_encoding`: one-step repairs until nothing changes.
    static func fixEncoding(_ text: Text) -> Text {
        var t = text
        while true {
            let next = fixEncodingStep(t)
            if next == t { return t }
            t = next
        }
    }

    /// `_fix_encoding_one_step_and_explain` with the default configuration.
    static func fixEncodingStep(_ text: Text) -> Text {
        if text.isEmpty || text.allSatisfy({ $0.isASCII }) || !isBad(text) { return text }
        var possible: [String] = []
        for map in charmaps {
            guard var bytes = encode(text, map) else { continue }
            possible.append(map.name)
            if map.name != "macroman", byteSearch(bytes, alteredUTF8) { bytes = restoreByteA0(bytes) }
            if map.isSloppy { bytes = byteSub(bytes, lossyUTF8) { _ in [0xEF, 0xBF, 0xBD] } }
            if let fixed = decodeUTF8Variants(bytes) { return fixed }
        }
        if utf8DetectorMatches(text).first != nil {
            let fixed = decodeInconsistentUTF8(text)
            if fixed != text { return fixed }
        }
        // ftfy compares against "windows-1252", a name that never appears in its list of
        // possible encodings (which says "sloppy-windows-1252"), so this branch always runs.
        if possible.contains("latin-1"), let bytes = encode(text, charmaps[0]) {
            let decoded = bytes.map { FTFYData.windows1252[Int($0)] }
            if !decoded.contains(0xFFFF_FFFF) {
                let fixed = decoded.map { Unicode.Scalar($0)! }
                if fixed != text { return fixed }
            }
        }
        if text.contains(where: { sets[FTFYData.c1Controls].contains($0) }) { return fixC1Controls(text) }
        return text
    }

    /// Matches of `chardata.UTF8_DETECTOR_RE` as `re.finditer` finds them:
    /// `(?<![strict continuation])([first2][cont]|[first3][cont]{2}|[first4][cont]{3})+`.
    static func utf8DetectorMatches(_ text: Text) -> [Range<Int>] {
        let strict = sets[FTFYData.utf8ContinuationStrict]
        let f2 = sets[FTFYData.utf8FirstOf2], f3 = sets[FTFYData.utf8FirstOf3], f4 = sets[FTFYData.utf8FirstOf4]
        let cont = sets[FTFYData.utf8Continuation]
        func unit(_ p: Int) -> Int? {  // length of one group iteration at p, first alternative first
            guard p < text.count else { return nil }
            for (first, n) in [(f2, 1), (f3, 2), (f4, 3)] where first.contains(text[p]) {
                if (1 ... n).allSatisfy({ p + $0 < text.count && cont.contains(text[p + $0]) }) {
                    return n + 1
                }
            }
            return nil
        }
        var out: [Range<Int>] = []
        var p = 0
        while p < text.count {
            if p == 0 || !strict.contains(text[p - 1]), var len = unit(p) {
                var e = p + len
                while let more = unit(e) { len = more; e += len }
                out.append(p ..< e)
                p = e
            } else {
                p += 1
            }
        }
        return out
    }

    /// `fixes.decode_inconsistent_utf8`: fixes each detector match that is bad on its own
    /// (and shorter than the whole text) with a full `fix_encoding`.
    static func decodeInconsistentUTF8(_ text: Text) -> Text {
        var out: Text = []
        var last = 0
        for m in utf8DetectorMatches(text) {
            out += text[last ..< m.lowerBound]
            let sub = Array(text[m])
            out += sub.count < text.count && isBad(sub) ? fixEncoding(sub) : sub
            last = m.upperBound
        }
        out += text[last...]
        return out
    }

    /// `fixes.fix_c1_controls`: U+0080–U+009F read as their sloppy windows-1252 byte.
    static func fixC1Controls(_ text: Text) -> Text {
        let c1 = sets[FTFYData.c1Controls]
        return text.map { c1.contains($0) ? sloppy1252.decode[Int($0.value)] : $0 }
    }
}
