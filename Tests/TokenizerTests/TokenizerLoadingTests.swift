import Foundation
import Testing
@testable import Tokenizer

/// A hand-written ModelProto: checks the protobuf decoder independently of the trained fixtures.
enum TinyModel {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    static func field(_ n: Int, _ payload: [UInt8]) -> [UInt8] { varint(UInt64(n << 3 | 2)) + varint(UInt64(payload.count)) + payload }
    static func int(_ n: Int, _ v: Int64) -> [UInt8] { varint(UInt64(n << 3)) + varint(UInt64(bitPattern: v)) }
    static func float(_ n: Int, _ v: Float) -> [UInt8] {
        let b = v.bitPattern
        return varint(UInt64(n << 3 | 5)) + [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
    }
    static func piece(_ s: String, _ score: Float, _ type: Int64 = 1) -> [UInt8] {
        field(1, field(1, Array(s.utf8)) + float(2, score) + int(3, type))
    }

    /// <unk> <s> </s>, "▁a" -1, "b" -2, "▁" -3, "a" -4, "ab" -1.5; model_type `type`.
    static func bytes(modelType: Int64 = 1, extraTrainer: [UInt8] = []) -> [UInt8] {
        var m = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3)
        m += piece("▁a", -1) + piece("b", -2) + piece("▁", -3) + piece("a", -4) + piece("ab", -1.5)
        m += field(2, int(3, modelType) + int(40, 0) + int(41, 1) + int(42, 2) + int(43, -1) + extraTrainer)
        m += field(3, field(1, Array("identity".utf8)) + int(3, 1) + int(4, 1) + int(5, 1))
        return m
    }
}

@Suite struct TokenizerLoadingTests {
    @Test func handWrittenModelProto() throws {
        let tok = try SentencePieceTokenizer(data: Data(TinyModel.bytes()))
        #expect(tok.format == .sentencePieceModel && tok.vocabSize == 8 && tok.eosID == 2)
        // "▁ab" = "▁a"+"b" (-3) vs "▁"+"ab" (-4.5) vs ... → ▁a b
        #expect(try tok.pieces("ab").map(\.piece) == ["▁a", "b"])
        #expect(try tok.encode("ab  ab") == [3, 4, 3, 4, 2])
        // 'c' is unknown; without byte fallback consecutive unknowns merge into one <unk>
        #expect(try tok.pieces("acc").map(\.id) == [3, 0])
        #expect(try tok.pieces("acc").map(\.piece) == ["▁a", "cc"])
    }

    @Test func refusesForeignAndBrokenFiles() throws {
        let good = TinyModel.bytes()
        let cases: [(String, [UInt8], TokenizerError.Kind)] = [
            ("empty", [], .notATokenizer),
            ("png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], .notATokenizer),
            ("text", Array("hello, this is not a model\n".utf8), .notATokenizer),
            ("truncated model", Array(good.prefix(good.count / 2)), .notATokenizer),
            ("json array", Array("[1, 2, 3]".utf8), .notATokenizer),
            ("json without model", Array(#"{"version": "1.0", "normalizer": null}"#.utf8), .notATokenizer),
            ("BPE json", Array(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#.utf8), .notATokenizer),
            ("WordPiece json", Array(#"{"model": {"type": "WordPiece", "vocab": {"a": 0}}}"#.utf8), .notATokenizer),
            ("broken json", Array(#"{"model": {"type": "Unigram", "vocab": [["a", -1.0]"#.utf8), .notATokenizer),
            ("bad unk id", Array(#"{"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}}"#.utf8), .corrupt),
            ("unknown normalizer", Array(#"{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}}"#.utf8), .unsupported),
            ("BPE spiece.model", TinyModel.bytes(modelType: 2), .unsupported),
            ("byte pieces missing", TinyModel.bytes(extraTrainer: TinyModel.int(35, 1)), .corrupt),
        ]
        for (name, bytes, kind) in cases {
            do {
                _ = try SentencePieceTokenizer(data: Data(bytes), path: name)
                Issue.record("\(name) was accepted")
            } catch let e as TokenizerError {
                #expect(e.kind == kind, "\(name): \(e)")
                #expect(e.description.hasPrefix(name + ": "), "\(e)")
            }
        }
    }

    @Test func locationRules() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func expectNotFound(_ path: String) {
            do {
                _ = try TokenizerLocation.resolve(path)
                Issue.record("\(path) resolved")
            } catch let e as TokenizerError {
                #expect(e.kind == .notFound)
                #expect(e.message.contains("https://huggingface.co/google/umt5-xxl") && e.message.contains("spiece.model")
                        && e.message.contains("tokenizer.json"))
            } catch { Issue.record("\(error)") }
        }
        expectNotFound(dir.path)
        expectNotFound(dir.appendingPathComponent("missing").path)
        let spm = dir.appendingPathComponent("spiece.model")
        try FileManager.default.copyItem(atPath: Fixtures.path("spiece.model"), toPath: spm.path)
        #expect(try TokenizerLocation.resolve(dir.path) == spm.path)
        let json = dir.appendingPathComponent("tokenizer.json")
        try FileManager.default.copyItem(atPath: Fixtures.path("tokenizer.json"), toPath: json.path)
        #expect(try TokenizerLocation.resolve(dir.path) == json.path)
        #expect(try TokenizerLocation.resolve(spm.path) == spm.path)
        #expect(try TokenizerLocation.load(dir.path).format == .tokenizerJSON)
        #expect(TokenizerLocation.defaultDirectory == "checkpoints/umt5-xxl")
    }

    @Test func fixedLengthEncoding() throws {
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("spiece.model"))
        let text = "The camera slowly pans across a neon-lit city at night"
        let full = try tok.encode(text)
        #expect(full.last == 1)
        let padded = try tok.encode(text, length: full.count + 5)
        #expect(padded.ids == full + [0, 0, 0, 0, 0] && !padded.truncated && padded.realLength == full.count)
        #expect(padded.attentionMask == [Int32](repeating: 1, count: full.count) + [0, 0, 0, 0, 0])
        let exact = try tok.encode(text, length: full.count)
        #expect(exact.ids == full && !exact.truncated)
        let cut = try tok.encode(text, length: 6)
        #expect(cut.ids == Array(full.prefix(5)) + [1] && cut.truncated && cut.droppedPieces == full.count - 6)
        let one = try tok.encode(text, length: 1)
        #expect(one.ids == [1] && one.truncated)
        #expect(throws: TokenizerError.self) { try tok.encode(text, length: 0) }
        let empty = try tok.encode("", length: 4)
        #expect(empty.ids == [1, 0, 0, 0] && empty.attentionMask == [1, 0, 0, 0] && empty.realLength == 1)
    }

    @Test func invalidUTF8IsReplacedLikePython() throws {
        var checked = 0
        let rows = try Fixtures.json("cases.json")["cases"]!.array!
        for (row, c) in zip(rows, Fixtures.cases) where c.bytes != nil {
            let want = row["decoded"]!.string!
            #expect(Array(UTF8Repair.decode(c.bytes!).unicodeScalars) == Array(want.unicodeScalars))
            checked += 1
        }
        #expect(checked >= 100)
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("spiece.model"))
        let bytes: [UInt8] = [0x61, 0xED, 0xA0, 0x80, 0x62, 0xF0, 0x9F, 0x98]
        #expect(try tok.encode(bytes: bytes, length: 32) == tok.encode("a\u{FFFD}\u{FFFD}\u{FFFD}b\u{FFFD}", length: 32))
    }

    @Test func charsmapScoresSurviveJSON() throws {
        // The tokenizer.json vocabulary scores are the spiece.model float32 scores, exactly.
        let file = try SentencePieceModelFile.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("spiece.model")))))
        let vocab = try Fixtures.json("tokenizer.json")["model"]!["vocab"]!.array!
        #expect(vocab.count == file.pieces.count)
        for (entry, piece) in zip(vocab, file.pieces) {
            #expect(entry.array![0].string == piece.piece && entry.array![1].double == Double(piece.score))
        }
        #expect(file.normalizer.name == "nmt_nfkc" && file.trainer.byteFallback && file.trainer.padID == 0)
    }
}
