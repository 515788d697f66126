/// Unicode Normalization Form C (UAX #15) over Python 3.11's Unicode 14 data, so that ftfy's
/// final `unicodedata.normalize("NFC", text)` is reproduced exactly. (Foundation's
/// `precomposedStringWithCanonicalMapping` on Linux is not usable: it composes the tag
/// character U+E0041 with U+0301 into "Á".)
enum UnicodeNFC {
    private struct Tables {
        var decomposition: [UInt32: (UInt32, UInt32)] = [:]  // second == 0: singleton
        var composition: [UInt64: UInt32] = [:]              // (first << 21 | second) -> composite
        var ccc: [UInt32: UInt8] = [:]
    }

    private static let tables: Tables = {
        var t = Tables()
        let d = UnicodeNFCData.decompositions
        for r in stride(from: 0, to: d.count, by: 4) {
            t.decomposition[d[r]] = (d[r + 1], d[r + 2])
            if d[r + 3] == 1 { t.composition[UInt64(d[r + 1]) << 21 | UInt64(d[r + 2])] = d[r] }
        }
        let c = UnicodeNFCData.combiningClasses
        for r in stride(from: 0, to: c.count, by: 3) {
            for v in c[r] ... c[r + 1] { t.ccc[v] = UInt8(c[r + 2]) }
        }
        return t
    }()

    // Hangul syllable arithmetic (Unicode 3.12).
    private static let sBase: UInt32 = 0xAC00, lBase: UInt32 = 0x1100, vBase: UInt32 = 0x1161, tBase: UInt32 = 0x11A7
    private static let lCount: UInt32 = 19, vCount: UInt32 = 21, tCount: UInt32 = 28
    private static let nCount = vCount * tCount, sCount = lCount * nCount

    static func combiningClass(_ v: UInt32) -> UInt8 { tables.ccc[v] ?? 0 }

    private static func decompose(_ v: UInt32, into out: inout [UInt32]) {
        if v >= sBase && v < sBase + sCount {
            let s = v - sBase
            out.append(lBase + s / nCount)
            out.append(vBase + (s % nCount) / tCount)
            if s % tCount != 0 { out.append(tBase + s % tCount) }
            return
        }
        guard let (a, b) = tables.decomposition[v] else { out.append(v); return }
        decompose(a, into: &out)
        if b != 0 { decompose(b, into: &out) }
    }

    static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Canonical decomposition.
        var d: [UInt32] = []
        d.reserveCapacity(text.count)
        for s in text { decompose(s.value, into: &d) }
        // Canonical ordering: stable sort of each run of non-starters by combining class.
        var i = 0
        while i < d.count {
            guard combiningClass(d[i]) != 0 else { i += 1; continue }
            var j = i
            while j < d.count && combiningClass(d[j]) != 0 { j += 1 }
            if j - i > 1 {
                let run = d[i ..< j].enumerated().sorted {
                    let (a, b) = (combiningClass($0.element), combiningClass($1.element))
                    return a != b ? a < b : $0.offset < $1.offset
                }
                d.replaceSubrange(i ..< j, with: run.map(\.element))
            }
            i = j
        }
        // Canonical composition.
        var out: [UInt32] = []
        out.reserveCapacity(d.count)
        var starter = -1        // index in `out` of the last starter
        var lastClass: Int = -1 // class of the last character appended after the starter
        for c in d {
            let cc = Int(combiningClass(c))
            if starter >= 0 {
                let s = out[starter]
                let blocked = lastClass != -1 && (lastClass == 0 || lastClass >= cc)
                if !blocked, let composite = compose(s, c) {
                    out[starter] = composite
                    continue
                }
            }
            if cc == 0 {
                starter = out.count
                lastClass = -1
            } else {
                lastClass = cc
            }
            out.append(c)
        }
        return out.map { Unicode.Scalar($0)! }
    }

    private static func compose(_ a: UInt32, _ b: UInt32) -> UInt32? {
        if a >= lBase && a < lBase + lCount && b >= vBase && b < vBase + vCount {
            return sBase + ((a - lBase) * vCount + (b - vBase)) * tCount
        }
        if a >= sBase && a < sBase + sCount && (a - sBase) % tCount == 0 && b > tBase && b < tBase + tCount {
            return a + (b - tBase)
        }
        return tables.composition[UInt64(a) << 21 | UInt64(b)]
    }
}
