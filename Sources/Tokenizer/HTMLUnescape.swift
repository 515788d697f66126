/// Python's `html.unescape` (Lib/html/__init__.py), on Unicode scalars.
///
/// References are found with the same rule as Python's `_charref` regex:
/// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`. Numeric references follow the
/// HTML5 table of replacements (`&#0;` → U+FFFD, `&#128;` → "€", surrogates and values above
/// U+10FFFF → U+FFFD, noncharacters and most controls → nothing). A name is looked up with its
/// ';'; failing that, the longest known prefix of at least two characters is decoded and the
/// rest kept (`&notit;` → "¬it;"); otherwise the text stays as written.
public enum PythonHTML {
    /// name (as in html5, e.g. "amp;" or "amp") → replacement.
    static let entities: [[Unicode.Scalar]: [Unicode.Scalar]] = {
        var d: [[Unicode.Scalar]: [Unicode.Scalar]] = [:]
        for entry in HTMLEntityData.html5.split(separator: "\u{0}", omittingEmptySubsequences: true) {
            let parts = entry.split(separator: "\u{1}", maxSplits: 1, omittingEmptySubsequences: false)
            d[Array(parts[0].unicodeScalars)] = Array(parts[1].unicodeScalars)
        }
        return d
    }()

    static let invalidCharrefs: [UInt32: Unicode.Scalar] = {
        var d: [UInt32: Unicode.Scalar] = [:]
        for (k, v) in zip(HTMLEntityData.invalidCharrefKeys, HTMLEntityData.invalidCharrefValues) {
            d[k] = Unicode.Scalar(v)!
        }
        return d
    }()

    static let invalidCodepoints = Set(HTMLEntityData.invalidCodepoints)

    public static func unescape(_ text: String) -> String {
        String(String.UnicodeScalarView(unescape(Array(text.unicodeScalars))))
    }

    static func unescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == "&", let (replacement, end) = reference(s, at: i) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0" ... "9").contains(c) }
    private static func isHex(_ c: Unicode.Scalar) -> Bool {
        isDigit(c) || ("a" ... "f").contains(c) || ("A" ... "F").contains(c)
    }

    /// The reference starting at `s[amp] == "&"`: (replacement, index after the match), or nil
    /// when the regex does not match there.
    private static func reference(_ s: [Unicode.Scalar], at amp: Int) -> ([Unicode.Scalar], Int)? {
        var i = amp + 1
        guard i < s.count else { return nil }
        if s[i] == "#" {
            i += 1
            var radix: UInt32 = 10
            if i < s.count, isDigit(s[i]) {
                // decimal
            } else if i + 1 < s.count, s[i] == "x" || s[i] == "X", isHex(s[i + 1]) {
                radix = 16
                i += 1
            } else {
                return nil
            }
            var value: UInt32 = 0
            var overflow = false
            while i < s.count, radix == 16 ? isHex(s[i]) : isDigit(s[i]) {
                let v = s[i].value
                let d = v <= 0x39 ? v - 0x30 : (v | 0x20) - 0x61 + 10
                if !overflow {
                    value = value * radix + d
                    if value > 0x10FFFF { overflow = true }
                }
                i += 1
            }
            if i < s.count, s[i] == ";" { i += 1 }
            return ([numeric(overflow ? 0x110000 : value)].compactMap { $0 }, i)
        }
        // Named: up to 32 characters outside "\t\n\f <&#;", then an optional ';'.
        var j = i
        while j < s.count, j - i < 32, !["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"].contains(s[j]) { j += 1 }
        guard j > i else { return nil }
        if j < s.count, s[j] == ";" { j += 1 }
        let name = Array(s[i ..< j])
        if let r = entities[name] { return (r, j) }
        var x = name.count - 1
        while x > 1 {
            if let r = entities[Array(name[..<x])] { return (r + name[x...], j) }
            x -= 1
        }
        return ([Unicode.Scalar("&")] + name, j)
    }

    private static func numeric(_ n: UInt32) -> Unicode.Scalar? {
        if let r = invalidCharrefs[n] { return r }
        if (0xD800 ... 0xDFFF).contains(n) || n > 0x10FFFF { return "\u{FFFD}" }
        if invalidCodepoints.contains(n) { return nil }
        return Unicode.Scalar(n)
    }
}
