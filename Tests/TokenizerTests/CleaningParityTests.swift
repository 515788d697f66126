import Foundation
import Testing
@testable import Tokenizer

/// Wan's prompt cleaning (ftfy.fix_text, html.unescape twice, whitespace collapsing) against the
/// Python reference on every fixture string, and the whole prompt path (cleaning, tokenizer.json,
/// padding, truncation, mask) against Wan's HuggingfaceTokenizer.
@Suite struct CleaningParityTests {
    @Test func cleaningMatchesWan() throws {
        let changed = try Fixtures.json("cleaning.json")["changed"]!.object!
        var failures = 0, changedCount = 0
        for (i, c) in Fixtures.cases.enumerated() {
            let want = changed[String(i)]?.string ?? c.text
            if changed[String(i)] != nil { changedCount += 1 }
            let got = WanTextCleaner.clean(c.text)
            // Scalar comparison: String == would treat canonically equivalent texts as equal.
            if Array(got.unicodeScalars) != Array(want.unicodeScalars) {
                failures += 1
                if failures <= 15 {
                    Issue.record("case \(i) [\(c.category)] \"\(Fixtures.show(c.text))\": got \"\(Fixtures.show(got))\" want \"\(Fixtures.show(want))\"")
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(Fixtures.cases.count) cleaned texts differ")
        #expect(changedCount > 500)
    }

    @Test func wanHuggingfaceTokenizerEndToEnd() throws {
        let rows = try Fixtures.json("wan_end_to_end.json")["rows"]!.array!
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("tokenizer.json"))
        var truncatedSeen = 0
        for row in rows {
            let i = row["case"]!.int!, length = row["seq_len"]!.int!
            let want = Fixtures.ids(row["ids"]!)
            let got = try tok.encodeWanPrompt(Fixtures.cases[i].text, length: length)
            #expect(got.ids.count == length && got.attentionMask.count == length)
            #expect(Array(got.ids.prefix(got.realLength)) == want, "case \(i) length \(length)")
            #expect(got.ids.dropFirst(got.realLength).allSatisfy { $0 == 0 })
            #expect(got.attentionMask == [Int32](repeating: 1, count: want.count) + [Int32](repeating: 0, count: length - want.count))
            if got.truncated { truncatedSeen += 1; #expect(got.ids[length - 1] == 1) }
        }
        #expect(rows.count == 300)
        #expect(truncatedSeen > 10)
    }

    @Test func htmlUnescapeExamples() {
        let cases: [(String, String)] = [
            ("&amp;", "&"), ("&amp", "&"), ("&ampx", "&x"), ("&notit;", "¬it;"), ("&notin;", "∉"),
            ("&#65;", "A"), ("&#x41", "A"), ("&#0;", "\u{FFFD}"), ("&#128;", "€"), ("&#x110000;", "\u{FFFD}"),
            ("&#1;", ""), ("&#xD800;", "\u{FFFD}"), ("&#;", "&#;"), ("&;", "&;"), ("& x", "& x"),
            ("&#99999999999999999999;", "\u{FFFD}"), ("&zzzz;", "&zzzz;"), ("&lt&gt", "<>"),
        ]
        for (input, want) in cases {
            #expect(PythonHTML.unescape(input).unicodeScalars.elementsEqual(want.unicodeScalars), "\(input)")
        }
    }

    @Test func ftfyExamples() {
        // ftfy's docstring examples, with the outputs ftfy 6.3.1 really gives.
        let cases: [(String, String)] = [
            ("âœ” No problems", "✔ No problems"),
            // The docstring says "...", ftfy 6.3.1 keeps the ellipsis character.
            ("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!", "Broken text… it's flubberific!"),
            ("ＬＯＵＤ　ＮＯＩＳＥＳ", "LOUD NOISES"),
            ("sÃ³", "só"),
            ("voilÃ le travail", "voilà le travail"),
            ("P&EACUTE;REZ", "PÉREZ"),
            ("BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"),
            ("&ntilde; &Ntilde; &NTILDE; &nTILDE;", "ñ Ñ Ñ &nTILDE;"),
            ("\u{201C}here\u{2019}s a test\u{201D}", "\"here's a test\""),
            ("\u{1B}[36;44mI'm blue\u{1B}[0m", "I'm blue"),
        ]
        for (input, want) in cases {
            #expect(FTFY.fixText(input).unicodeScalars.elementsEqual(want.unicodeScalars), "\(input) → \(FTFY.fixText(input))")
        }
    }
}
