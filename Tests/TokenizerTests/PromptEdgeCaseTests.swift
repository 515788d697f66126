import Foundation
import Testing
@testable import Tokenizer

/// The kinds of prompt text that break naive tokenizers, picked out of the reference fixtures so
/// that each kind is known to be covered: right-to-left scripts and bidi controls, emoji (ZWJ
/// sequences, presentation selectors), C0/C1 controls and invalid UTF-8. The ids must equal the
/// `sentencepiece` library's and Wan's whole prompt path (cleaning + tokenizers) on every one.
@Suite struct PromptEdgeCaseTests {
    nonisolated static func isRightToLeft(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFE, 0x10800...0x10FFF, 0x1E800...0x1EFFF: true
        case 0x200F, 0x202B, 0x202E, 0x2067: true      // RLM, RLE, RLO, RLI
        default: false
        }
    }
    nonisolated static func isEmoji(_ s: Unicode.Scalar) -> Bool { s.properties.isEmojiPresentation || s == "\u{200D}" || s == "\u{FE0F}" }
    nonisolated static func isControl(_ s: Unicode.Scalar) -> Bool { (s.value < 0x20 && ![0x09, 0x0A, 0x0D].contains(s.value)) || (0x7F...0x9F).contains(s.value) }

    enum Kind: String, CaseIterable, Sendable {
        case rightToLeft = "right-to-left", emoji, controls = "control characters", invalidUTF8 = "invalid UTF-8"
        /// Fixture cases of this kind there must be at least.
        var minimum: Int { [.rightToLeft: 90, .emoji: 900, .controls: 200, .invalidUTF8: 150][self]! }
        func matches(_ c: Fixtures.Case) -> Bool {
            switch self {
            case .rightToLeft: c.text.unicodeScalars.contains(where: isRightToLeft)
            case .emoji: c.text.unicodeScalars.contains(where: isEmoji)
            case .controls: c.text.unicodeScalars.contains(where: isControl)
            case .invalidUTF8: c.bytes != nil
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func sentencePieceIdsEqualTheReference(kind: Kind) throws {
        let (name, minimum, matches) = (kind.rawValue, kind.minimum, kind.matches)
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("spiece.model"))
        let expected = try Fixtures.json("ids_spiece.json")["ids"]!.array!
        var checked = 0
        for (i, c) in Fixtures.cases.enumerated() where matches(c) && !expected[i].isNull {
            let got = try c.bytes.map { try tok.encode(bytes: $0, length: 4096) }?.ids.prefix { $0 != tok.eosID } .map { $0 }
                ?? tok.pieces(c.text).map(\.id)
            #expect(got == Fixtures.ids(expected[i]), "\(name) case \(i): \"\(Fixtures.show(c.text))\"")
            checked += 1
        }
        #expect(checked >= minimum, "only \(checked) \(name) cases in the fixtures")
    }

    @Test(arguments: Kind.allCases)
    func wanPromptPathEqualsTheReference(kind: Kind) throws {
        let (name, matches) = (kind.rawValue, kind.matches)
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("tokenizer.json"))
        var checked = 0
        for row in try Fixtures.json("wan_end_to_end.json")["rows"]!.array! {
            let i = row["case"]!.int!, length = row["seq_len"]!.int!
            guard matches(Fixtures.cases[i]) else { continue }
            let got = try tok.encodeWanPrompt(Fixtures.cases[i].text, length: length)
            #expect(Array(got.ids.prefix(got.realLength)) == Fixtures.ids(row["ids"]!), "\(name) case \(i)")
            checked += 1
        }
        #expect(checked >= 10, "only \(checked) \(name) prompts in the end-to-end fixture")
    }

    /// Random scalars from every plane and category (surrogate code points excluded: a Swift
    /// String cannot hold them; invalid bytes go through UTF8Repair): cleaning and encoding end
    /// with exactly `length` ids, `</s>` last among the real ones, never a trap.
    @Test func randomTextNeverBreaksThePromptPath() throws {
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("tokenizer.json"))
        var rng = SplitMix(seed: 18)
        let pools: [ClosedRange<UInt32>] = [0x00...0x7F, 0x80...0x2FF, 0x590...0x8FF, 0x2000...0x206F, 0x1F300...0x1FAFF,
                                             0xFE00...0xFEFF, 0x4E00...0x4E80, 0xE0000...0xE007F, 0xF0000...0xF0010]
        for n in 0..<600 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int(rng.next() % 64) {
                let pool = pools[Int(rng.next() % UInt64(pools.count))]
                if let s = Unicode.Scalar(pool.lowerBound + UInt32(rng.next() % UInt64(pool.count))) { scalars.append(s) }
            }
            var bytes = Array(String(scalars).utf8)
            if n % 3 == 0, !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            for length in [8, 512] {
                let got = try tok.encodeWanPrompt(UTF8Repair.decode(bytes), length: length)
                #expect(got.ids.count == length && got.attentionMask.count == length && got.realLength >= 1)
                #expect(got.ids[got.realLength - 1] == tok.eosID)
            }
        }
    }

    /// Over 512 tokens: the first 511 pieces and `</s>`, the rest reported as dropped.
    @Test func longPromptsKeepTheirBeginning() throws {
        let tok = try SentencePieceTokenizer(contentsOf: Fixtures.path("tokenizer.json"))
        let long = Fixtures.cases.first { $0.category == "long" }!.text
        let pieces = try tok.pieces(WanTextCleaner.clean(long)).map(\.id)
        #expect(pieces.count > 600)
        let t = try tok.encodeWanPrompt(long)
        #expect(t.truncated && t.droppedPieces == pieces.count - 511 && t.realLength == 512)
        #expect(Array(t.ids.prefix(511)) == Array(pieces.prefix(511)) && t.ids[511] == tok.eosID)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
