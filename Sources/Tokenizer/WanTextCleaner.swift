/// Wan's prompt cleaning for the T5 tokenizer (wan/modules/tokenizers.py, clean='whitespace'):
///
///     basic_clean(text)      = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
///     whitespace_clean(text) = re.sub(r'\s+', ' ', text).strip()
///
/// `ftfy.fix_text` is reproduced with its default configuration (ftfy 6.3.1), see `FTFY`.
/// `\s` is the `regex` module's (Unicode White_Space); `str.strip()` uses Python's
/// `str.isspace`, which also counts U+001C–U+001F.
public enum WanTextCleaner {
    /// `whitespace_clean(basic_clean(text))`.
    public static func clean(_ text: String) -> String {
        var t = FTFY.fixText(Array(text.unicodeScalars))
        t = PythonHTML.unescape(PythonHTML.unescape(t))
        t = pythonStrip(t)
        // whitespace_clean
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count)
        var inSpace = false
        for s in t {
            if isUnicodeWhiteSpace(s) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(s)
                inSpace = false
            }
        }
        return String(String.UnicodeScalarView(pythonStrip(out)))
    }

    /// `str.strip()` with no argument.
    static func pythonStrip(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let space = FTFYEncoding.sets[FTFYData.pythonSpace]
        guard let first = t.firstIndex(where: { !space.contains($0) }) else { return [] }
        let last = t.lastIndex(where: { !space.contains($0) })!
        return Array(t[first ... last])
    }
}
