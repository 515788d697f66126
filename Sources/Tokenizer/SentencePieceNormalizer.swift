/// sentencepiece's `Normalizer::Normalize` (normalizer.cc), on UTF-8 bytes:
/// - each step takes the longest user-defined symbol at the position (kept verbatim), else the
///   longest precompiled rule (replaced), else one character (kept; a malformed byte becomes
///   U+FFFD and consumes one byte);
/// - `remove_extra_whitespaces`: leading characters that normalize to exactly " " are dropped,
///   spaces at the start of a replacement that follows a space are dropped, and trailing space
///   symbols are removed at the end;
/// - `escape_whitespaces`: ' ' becomes U+2581 "▁";
/// - `add_dummy_prefix`: one space symbol in front (behind with `treat_whitespace_as_suffix`).
struct SentencePieceNormalizer: Sendable {
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581
    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    let charsmap: PrecompiledCharsmap?
    let userDefined: PieceTrie?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let treatWhitespaceAsSuffix: Bool

    /// sentencepiece's `OneCharLen`: the sequence length announced by a UTF-8 lead byte.
    @inline(__always) static func oneCharLength(_ b: UInt8) -> Int {
        switch b >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }

    /// Length of the valid UTF-8 character at `i`, or nil if malformed (`IsValidDecodeUTF8`).
    static func validCharLength(_ s: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        let b0 = s[i]
        if b0 < 0x80 { return 1 }
        func cont(_ k: Int) -> UInt8? { i + k < end && s[i + k] & 0xC0 == 0x80 ? s[i + k] : nil }
        switch b0 {
        case 0xC2 ... 0xDF:
            return cont(1) != nil ? 2 : nil
        case 0xE0 ... 0xEF:
            guard let b1 = cont(1), cont(2) != nil else { return nil }
            if b0 == 0xE0 && b1 < 0xA0 { return nil }  // overlong
            if b0 == 0xED && b1 > 0x9F { return nil }  // surrogate
            return 3
        case 0xF0 ... 0xF4:
            guard let b1 = cont(1), cont(2) != nil, cont(3) != nil else { return nil }
            if b0 == 0xF0 && b1 < 0x90 { return nil }
            if b0 == 0xF4 && b1 > 0x8F { return nil }
            return 4
        default:
            return nil
        }
    }

    /// One normalization step at `i`: (replacement bytes, bytes consumed).
    private func normalizePrefix(_ s: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (ArraySlice<UInt8>, Int) {
        if let userDefined {
            var longest = 0
            userDefined.commonPrefixSearch(s, from: i, to: end) { _, length in longest = max(longest, length) }
            if longest > 0 { return (ArraySlice(s[i ..< i + longest]), longest) }
        }
        if let charsmap, let m = charsmap.longestMatch(s, i, end) {
            return (m.replacement, m.length)
        }
        guard let length = Self.validCharLength(s, i, end) else {
            return (ArraySlice(Self.replacementCharacter), 1)
        }
        return (ArraySlice(s[i ..< i + length]), length)
    }

    func normalize(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBufferPointer { s in normalize(s) }
    }

    func normalize(_ s: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let end = s.count
        var i = 0
        if removeExtraWhitespaces {
            while i < end {
                let (r, n) = normalizePrefix(s, i, end)
                guard r.count == 1, r.first == 0x20 else { break }
                i += n
            }
        }
        guard i < end else { return [] }

        var out: [UInt8] = []
        out.reserveCapacity((end - i) * 3)
        func addSpace() {
            if escapeWhitespaces { out.append(contentsOf: Self.spaceSymbol) } else { out.append(0x20) }
        }
        if !treatWhitespaceAsSuffix && addDummyPrefix { addSpace() }

        var isPrevSpace = removeExtraWhitespaces
        while i < end {
            let (r, n) = normalizePrefix(s, i, end)
            var piece = r
            while isPrevSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for b in piece {
                    if escapeWhitespaces && b == 0x20 { out.append(contentsOf: Self.spaceSymbol) } else { out.append(b) }
                }
                isPrevSpace = piece.last == 0x20
            }
            i += n
            if !removeExtraWhitespaces { isPrevSpace = false }
        }

        if removeExtraWhitespaces {
            let space: [UInt8] = escapeWhitespaces ? Self.spaceSymbol : [0x20]
            while out.count >= space.count, out[(out.count - space.count)...].elementsEqual(space) {
                out.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && addDummyPrefix { addSpace() }
        return out
    }
}
