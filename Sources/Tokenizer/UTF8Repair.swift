/// Decoding of bytes that may not be valid UTF-8, with exactly the replacements of Python's
/// `bytes.decode("utf-8", errors="replace")`: each maximal subpart of an ill-formed sequence
/// becomes one U+FFFD (Unicode's recommended practice, which CPython follows). Examples:
/// `E2 82 41` → "\u{FFFD}A"; `ED A0 80` (a surrogate) → three U+FFFD; `C0 80` → two;
/// `F0 9F 98` at the end → one.
public enum UTF8Repair {
    public static func decode(_ bytes: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                out.append(Unicode.Scalar(b))
                i += 1
                continue
            }
            let need: Int
            let second: ClosedRange<UInt8>
            switch b {
            case 0xC2 ... 0xDF: need = 1; second = 0x80 ... 0xBF
            case 0xE0: need = 2; second = 0xA0 ... 0xBF
            case 0xE1 ... 0xEC, 0xEE ... 0xEF: need = 2; second = 0x80 ... 0xBF
            case 0xED: need = 2; second = 0x80 ... 0x9F
            case 0xF0: need = 3; second = 0x90 ... 0xBF
            case 0xF1 ... 0xF3: need = 3; second = 0x80 ... 0xBF
            case 0xF4: need = 3; second = 0x80 ... 0x8F
            default:
                out.append("\u{FFFD}")
                i += 1
                continue
            }
            guard i + 1 < n, second.contains(bytes[i + 1]) else {
                out.append("\u{FFFD}")
                i += 1
                continue
            }
            var j = i + 2
            var got = 1
            while got < need, j < n, bytes[j] & 0xC0 == 0x80 {
                j += 1
                got += 1
            }
            guard got == need else {
                out.append("\u{FFFD}")
                i = j
                continue
            }
            var v = UInt32(b) & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07)
            for k in i + 1 ..< j { v = v << 6 | UInt32(bytes[k] & 0x3F) }
            out.append(Unicode.Scalar(v)!)
            i = j
        }
        return String(out)
    }
}
