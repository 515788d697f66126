/// ftfy 6.3.1's `fix_text` with its default `TextFixerConfig`. Every default step is
/// implemented: HTML entities (ftfy's own unescape_html, off for a line holding "<" and every
/// line after it), fix_encoding (mojibake of UTF-8 read as latin-1, windows-125x, iso-8859-2,
/// MacRoman or cp437, with restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8,
/// fix_c1_controls), fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
/// remove_terminal_escapes, remove_control_chars and NFC, repeated per line until stable.
/// fix_surrogates has nothing to do: a Swift string cannot hold a surrogate.
/// NFC uses Python 3.11's Unicode 14 data (generated); the few Unicode properties read from the
/// Swift runtime (ASCII letters, upper-casing entity values) do not depend on the version.
public enum FTFY {
    typealias Text = [Unicode.Scalar]

    public static func fixText(_ text: String) -> String {
        String(String.UnicodeScalarView(fixText(Array(text.unicodeScalars))))
    }

    static func fixText(_ text: Text) -> Text {
        var out: Text = []
        var unescape = true  // "auto" until a segment holds "<"
        var pos = 0
        while pos < text.count {
            var end = text[pos...].firstIndex(of: "\n").map { $0 + 1 } ?? text.count
            if end - pos > 1_000_000 { end = pos + 1_000_000 }
            let segment = Array(text[pos ..< end])
            if segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            pos = end
        }
        return out
    }

    /// `fix_and_explain` without the explanation.
    static func fixSegment(_ segment: Text, unescapeHTML: Bool) -> Text {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = unescapeHTMLEntities(text) }
            text = FTFYEncoding.fixEncoding(text)
            text = FTFYEncoding.fixC1Controls(text)
            text = translate(text, ligatures)
            text = translate(text, widthMap)
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !controlCharacters.contains($0) }
            text = nfc(text)
            if text == original { return text }
        }
    }

    // MARK: individual fixers

    private static func table(_ data: String) -> [Unicode.Scalar: Text] {
        var d: [Unicode.Scalar: Text] = [:]
        for entry in data.split(separator: "\u{0}") {
            let parts = entry.split(separator: "\u{1}", maxSplits: 1, omittingEmptySubsequences: false)
            d[parts[0].unicodeScalars.first!] = Array(parts[1].unicodeScalars)
        }
        return d
    }

    static let ligatures = table(FTFYData.ligatures)
    static let widthMap = table(FTFYData.widthMap)
    static let controlCharacters = FTFYEncoding.CharSet(ranges: FTFYData.controlCharacters)

    static func translate(_ text: Text, _ map: [Unicode.Scalar: Text]) -> Text {
        var out: Text = []
        out.reserveCapacity(text.count)
        for s in text {
            if let r = map[s] { out += r } else { out.append(s) }
        }
        return out
    }

    static func uncurlQuotes(_ text: Text) -> Text {
        let single = FTFYEncoding.sets[FTFYData.singleQuotes], double = FTFYEncoding.sets[FTFYData.doubleQuotes]
        return text.map { double.contains($0) ? "\"" : single.contains($0) ? "'" : $0 }
    }

    static func fixLineBreaks(_ text: Text) -> Text {
        var out: Text = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let s = text[i]
            if s == "\r" && i + 1 < text.count && text[i + 1] == "\n" {
                out.append("\n")
                i += 2
                continue
            }
            out.append(["\r", "\u{2028}", "\u{2029}", "\u{85}"].contains(s) ? "\n" : s)
            i += 1
        }
        return out
    }

    /// `ANSI_RE = "\033\[((?:\d|;)*)([a-zA-Z])"` removed (`\d`: Python's Unicode decimal digits).
    static func removeTerminalEscapes(_ text: Text) -> Text {
        guard text.contains("\u{1B}") else { return text }
        let digit = FTFYEncoding.sets[FTFYData.pythonDecimalDigit]
        var out: Text = []
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count, text[j] == ";" || digit.contains(text[j]) { j += 1 }
                if j < text.count, text[j].isASCII, text[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    static func nfc(_ text: Text) -> Text {
        guard !text.allSatisfy({ $0.value < 0x300 }) else { return text }  // nothing changes below U+0300
        return UnicodeNFC.nfc(text)
    }

    // MARK: ftfy's unescape_html

    /// `chardata.HTML_ENTITIES`: "&name;" for html5 names with ';', plus all-caps spellings of
    /// lowercase names when Python's html.unescape leaves the all-caps form alone (value upper-cased).
    static let htmlEntities: [Text: Text] = {
        var d: [Text: Text] = [:]
        for entry in HTMLEntityData.html5.split(separator: "\u{0}") {
            let parts = entry.split(separator: "\u{1}", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]), value = String(parts[1])
            guard name.hasSuffix(";") else { continue }
            d[Array(("&" + name).unicodeScalars)] = Array(value.unicodeScalars)
            if name == name.lowercased() {
                let upper = Array(("&" + name.uppercased()).unicodeScalars)
                if PythonHTML.unescape(upper) == upper { d[upper] = Array(value.uppercased().unicodeScalars) }
            }
        }
        return d
    }()

    /// `fixes.unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is a known entity, or a
    /// numeric reference that Python's html.unescape decodes completely.
    static func unescapeHTMLEntities(_ text: Text) -> Text {
        guard text.contains("&") else { return text }
        func alnum(_ s: Unicode.Scalar) -> Bool { s.isASCII && (s.properties.isAlphabetic || ("0" ... "9").contains(s)) }
        var out: Text = []
        var i = 0
        while i < text.count {
            if text[i] == "&" {
                var j = i + 1
                if j < text.count, text[j] == "#" { j += 1 }
                let nameStart = j
                while j < text.count, j - nameStart < 24, alnum(text[j]) { j += 1 }
                if j > nameStart, j < text.count, text[j] == ";" {
                    let match = Array(text[i ... j])
                    var replacement = match
                    if let r = htmlEntities[match] {
                        replacement = r
                    } else if nameStart == i + 2 {
                        let u = PythonHTML.unescape(match)
                        if !u.contains(";") { replacement = u }
                    }
                    out += replacement
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }
}
