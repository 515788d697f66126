import Foundation
import Testing

/// Prompts that are not plain text: control characters, invalid UTF-8 on serve's standard
/// input, right-to-left and emoji text, prompts longer than the 512-token context, prompts the
/// cleaning empties. None may crash; each gets a clear answer. Tiny random models (e2e fixtures).
@Suite(.serialized) struct PromptInputTests {
    static func model(_ name: String) -> String { GenerateCommandTests.model(name) }

    let scratch: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("td-prompt-\(UInt32.random(in: 0 ... .max))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    var shared: [String] {
        ["--dit_path", Self.model("dit_t2v.pth"), "--vae_path", Self.model("vae.pth"), "--text_encoder_path", Self.model("t5.pth"),
         "--tokenizer_path", Self.model("tokenizer"), "--size", "32x32", "--num_frames", "1", "--num_steps", "1",
         "--video_writer", "builtin"]
    }

    @Test func promptsTheCleaningEmptiesAreRefusedBeforeAnyWork() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        for prompt in ["\u{7}\u{1B}[31m\u{1B}[0m", " \t\u{0B}\u{0C}", "&nbsp;&#32;", "\u{FEFF}\u{206A}\u{2028}"] {
            let out = scratch.appendingPathComponent("never.mp4")
            let r = try CLI.run(["t2v", "--prompt", prompt, "--save_path", out.path] + shared)
            #expect(r.status != 0 && r.stderr.contains("the prompt is empty once cleaned"), "\(prompt.unicodeScalars.map(\.value)): \(r.stderr)")
            #expect(!r.stderr.contains("load text encoder") && !FileManager.default.fileExists(atPath: out.path))
        }
    }

    @Test func controlCharactersRightToLeftAndEmojiGenerate() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let prompt = "\u{1B}[1mכדור אדום\u{1B}[0m \u{202E}كرة حمراء\u{202C} 🔴➡️👩‍👩‍👧\u{7}\u{0} moves left"
        let r = try CLI.run(["t2v", "--prompt", prompt, "--save_path", scratch.appendingPathComponent("rtl.mp4").path] + shared)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("rtl.mp4").path))
    }

    @Test func promptsOverTheContextAreCutWithAWarning() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let words = (0..<700).map { "w\($0)" }.joined(separator: " ")
        let r = try CLI.run(["t2v", "--prompt", words, "--save_path", scratch.appendingPathComponent("long.mp4").path] + shared)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: the prompt is longer than 512 tokens"), "\(r.stderr)")
    }

    /// serve reads bytes: invalid UTF-8 is replaced as Python replaces it (and said so), a line the
    /// cleaning empties is an error, and the session goes on to the next prompt.
    @Test func serveSurvivesHostileLines() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        var input = Data("a red \u{1}ball ".utf8) + Data([0xFF, 0xED, 0xA0, 0x80, 0xE2, 0x82]) + Data(" moves\r\n".utf8)
        input += Data("\u{7}\u{1B}[0m\u{1B}[2J\n".utf8)
        input += Data("כדור 🔴 كرة\n".utf8)
        input += Data(String(repeating: "x y ", count: 600).utf8) + Data("\n/quit\n".utf8)
        let r = try CLI.run(["serve", "t2v"] + shared, stdinBytes: input, directory: scratch)
        #expect(r.status == 0, "\(r.stderr)")
        // 0xFF → 1, ED A0 80 (a surrogate) → 3, E2 82 cut short → 1, as bytes.decode('utf-8', 'replace').
        #expect(r.stderr.contains("not valid UTF-8: 5 invalid byte sequence(s)"), "\(r.stderr)")
        #expect(r.stdout.contains("error: the prompt is empty once cleaned"), "\(r.stdout)")
        #expect(r.stdout.components(separatedBy: "saved outputs/t2v_").count == 4, "\(r.stdout)")
        #expect(r.stderr.contains("warning: the prompt is longer than 512 tokens"))
        #expect(r.stdout.contains("bye"))
    }
}
