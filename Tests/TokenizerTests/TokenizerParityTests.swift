import Foundation
import Testing
@testable import Tokenizer

/// Shared fixture access (files written by scripts/reference/make_tokenizer_fixtures.py).
enum Fixtures {
    static func path(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw TokenizerError(.notFound, "missing fixture \(name)")
        }
        return url.path
    }

    /// Fixture JSON, read with the module's own reader (JSONSerialization drops a leading
    /// U+FEFF from strings, and several test strings start with one).
    static func json(_ name: String) throws -> JSONValue {
        try JSONValue.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: path(name)))))
    }

    struct Case {
        let category: String
        let text: String
        let bytes: [UInt8]?
    }

    /// The test strings; invalid UTF-8 cases are decoded like Python's errors='replace'.
    static let cases: [Case] = {
        let o = try! json("cases.json")
        return o["cases"]!.array!.map { c in
            let cat = c["cat"]!.string!
            if let b64 = c["b64"]?.string {
                let bytes = [UInt8](Data(base64Encoded: b64)!)
                return Case(category: cat, text: UTF8Repair.decode(bytes), bytes: bytes)
            }
            return Case(category: cat, text: c["text"]!.string!, bytes: nil)
        }
    }()

    static func ids(_ x: JSONValue) -> [Int32] { x.array!.map { Int32($0.int!) } }

    /// Readable rendering of a case for failure messages.
    static func show(_ s: String) -> String {
        let short = s.unicodeScalars.count > 80 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(80))) + "…" : s
        return short.unicodeScalars.map { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }
}

/// Exact id parity with the `sentencepiece` and `tokenizers` Python libraries on every fixture
/// string, for three SentencePiece models and seven tokenizer.json layouts.
@Suite struct TokenizerParityTests {
    @Test("spiece.model ids equal sentencepiece's", arguments: ["spiece.model", "spiece_nfkc_cf.model", "spiece_identity.model"])
    func sentencePieceModel(name: String) throws {
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path(name))
        #expect(tok.format == .sentencePieceModel)
        let ref = try Fixtures.json("ids_" + name.replacingOccurrences(of: ".model", with: ".json"))
        #expect(Int32(ref["eos_id"]!.int!) == tok.eosID)
        let expected = ref["ids"]!.array!
        #expect(expected.count == Fixtures.cases.count)
        var checked = 0, failures = 0
        for (i, c) in Fixtures.cases.enumerated() where !expected[i].isNull {
            let want = Fixtures.ids(expected[i])
            let got = try tok.pieces(c.text).map(\.id)
            checked += 1
            if got != want {
                failures += 1
                if failures <= 10 {
                    Issue.record("\(name) case \(i) [\(c.category)] \"\(Fixtures.show(c.text))\": got \(got) want \(want)")
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(checked) cases differ")
        #expect(checked >= (name == "spiece.model" ? 2000 : 1000))
    }

    /// tokenizer.json layouts: the fixture lists, per layout, the ids that differ from the
    /// layout's base (sentencepiece's ids + </s>, or another layout).
    @Test("tokenizer.json ids equal tokenizers'", arguments: ["converter", "converter_no_byte_fallback", "legacy_umt5",
                                                               "transformers_v5", "first_no_split", "no_normalizer_strip_both",
                                                               "added_token_flags"])
    func tokenizerJSON(layout: String) throws {
        let ref = try Fixtures.json("ids_tokenizer_json.json")
        let variants = ref["variants"]!
        let differs = ref["differs"]!
        let spm = try Fixtures.json("ids_spiece.json")["ids"]!.array!

        func expected(_ name: String, _ i: Int) -> [Int32] {
            if name == "spiece.model" { return Fixtures.ids(spm[i]) + [1] }
            if let d = differs[name]?[String(i)] { return Fixtures.ids(d) }
            return expected(variants[name]!["base"]!.string!, i)
        }

        let tok = try SentencePieceTokenizer(data: try Self.layout(variants[layout]!), path: layout)
        #expect(tok.format == .tokenizerJSON)
        let every = variants[layout]!["every"]?.int ?? 1
        var checked = 0, failures = 0
        for (i, c) in Fixtures.cases.enumerated() where i % every == 0 {
            let want = expected(layout, i)
            let got = try tok.encode(c.text)
            checked += 1
            if got != want {
                failures += 1
                if failures <= 10 {
                    Issue.record("\(layout) case \(i) [\(c.category)] \"\(Fixtures.show(c.text))\": got \(got) want \(want)")
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(checked) cases differ")
    }

    /// tokenizer.json with the layout's overrides applied (same rules as the fixture script).
    static func layout(_ overrides: JSONValue) throws -> Data {
        var top = try Fixtures.json("tokenizer.json").object!
        let normalizers = top["normalizer"]!["normalizers"]!.array!
        let charsmap = normalizers.first { $0["type"]?.string == "Precompiled" }!["precompiled_charsmap"]!
        func subst(_ x: JSONValue) -> JSONValue {
            switch x {
            case .object(let d): return .object(d.mapValues(subst))
            case .array(let a): return .array(a.map(subst))
            case .string("$CHARSMAP"): return charsmap
            default: return x
            }
        }
        for (key, value) in overrides.object! where key != "base" && key != "every" {
            if key == "model_byte_fallback" {
                var model = top["model"]!.object!
                model["byte_fallback"] = value.isNull ? nil : value
                top["model"] = .object(model)
            } else {
                top[key] = subst(value)
            }
        }
        return Data(JSONValue.object(top).serialized())
    }
}
