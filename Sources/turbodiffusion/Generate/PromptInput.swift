#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Tokenizer

/// Prompts as they enter the program. Wan cleans a prompt before tokenizing it (ftfy, HTML
/// unescaping, whitespace collapsing: `WanTextCleaner`); a prompt that cleaning empties would
/// condition the video on nothing, so it is refused with a message instead.
enum PromptInput {
    struct Empty: Error, CustomStringConvertible {
        let description = "the prompt is empty once cleaned as Wan cleans prompts (it holds only whitespace, control characters, "
            + "terminal escape sequences or entities that decode to them); type some words"
    }

    /// The prompt as Wan's cleaning leaves it; throws `Empty` when nothing is left.
    static func cleaned(_ prompt: String) throws -> String {
        let text = WanTextCleaner.clean(prompt)
        guard !text.isEmpty else { throw Empty() }
        return text
    }

    /// One line of standard input without its line break ("\n" or "\r\n"), nil at the end of
    /// input. The bytes are decoded as Python's `bytes.decode("utf-8", errors="replace")` does
    /// (`UTF8Repair`), so a prompt with invalid UTF-8 is tokenized as the reference would tokenize
    /// it; `replaced` counts the invalid sequences that became U+FFFD.
    static func readLine(next: () -> Int32 = { getchar() }) -> (text: String, replaced: Int)? {
        var bytes: [UInt8] = []
        var sawAny = false
        while true {
            let c = next()
            if c == EOF { break }
            sawAny = true
            if c == 0x0A { break }
            bytes.append(UInt8(truncatingIfNeeded: c))
        }
        guard sawAny else { return nil }
        if bytes.last == 0x0D { bytes.removeLast() }
        let text = UTF8Repair.decode(bytes)
        let written = bytes.indices.dropLast(2).filter { bytes[$0] == 0xEF && bytes[$0 + 1] == 0xBF && bytes[$0 + 2] == 0xBD }.count
        return (text, text.unicodeScalars.filter { $0 == "\u{FFFD}" }.count - written)
    }
}
