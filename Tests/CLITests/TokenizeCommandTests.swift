import Foundation
import Testing

/// `turbodiffusion tokenize` on the tokenizer fixtures (ids from the Python libraries).
@Suite struct TokenizeCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TokenizerTests/Fixtures")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    @Test func printsIdsOfSpiece() throws {
        let r = try CLI.run(["tokenize", "--tokenizer", Self.fixture("spiece.model"), "A cat walks on the grass."])
        #expect(r.status == 0 && r.stderr.isEmpty)
        // sentencepiece's ids + </s>
        #expect(r.stdout == "262 1470 262 1488 1498 1491 262 1479 1498 1494 266 1493 262 1496 1492 262 1491 1483 1499 262 1487 1497 1498 1493 1493 285 1\n")
    }

    @Test func directoryPrefersTokenizerJSONAndPrintsPieces() throws {
        let r = try CLI.run(["tokenize", "--tokenizer_path", Self.fixtures.path, "--pieces", "a <sep> b"])
        #expect(r.status == 0)
        // tokenizers' ids: the added token <sep> splits the text, each side gets its own "▁".
        #expect(r.stdout.hasPrefix("262 1498 3 262 1480 1\n"))
        #expect(r.stdout.contains("3\t<sep>\n") && r.stdout.hasSuffix("1\t</s>\n"))
    }

    @Test func lengthPadsAndWarnsWhenCut() throws {
        let r = try CLI.run(["tokenize", "--tokenizer", Self.fixture("tokenizer.json"), "--length", "4", "a b c d e f"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].split(separator: " ").count == 4 && lines[0].hasSuffix(" 1"))
        #expect(lines[1] == "mask 1 1 1 1")
        #expect(r.stderr.contains("warning:") && r.stderr.contains("cut"))
    }

    @Test func missingAndForeignTokenizers() throws {
        let missing = try CLI.run(["tokenize", "--tokenizer", "/nonexistent/umt5", "x"])
        #expect(missing.status != 0 && missing.stdout.isEmpty)
        #expect(missing.stderr.contains("https://huggingface.co/google/umt5-xxl") && missing.stderr.contains("spiece.model"))
        let foreign = try CLI.run(["tokenize", "--tokenizer", Self.fixture("cases.json"), "x"])
        #expect(foreign.status != 0)
        #expect(foreign.stderr.contains("not a tokenizer.json"))
    }
}
