/// SentencePiece's precompiled normalization rules (`NormalizerSpec.precompiled_charsmap`,
/// also stored base64 in tokenizer.json's `Precompiled` normalizer).
///
/// Blob layout: `<uint32 LE trie size in bytes><Darts-clone double array><normalized strings>`.
/// The double array maps UTF-8 byte strings (one or more characters) to an offset into the
/// normalized-strings blob, where the replacement is a NUL-terminated UTF-8 string.
///
/// Two lookups exist because the two libraries use the table differently:
/// - sentencepiece (normalizer.cc) takes the LONGEST rule that is a prefix of the remaining input;
/// - Hugging Face (spm_precompiled `transform`) takes the FIRST (shortest) rule that is a prefix of
///   the chunk it was given, whether or not it covers the whole chunk.
struct PrecompiledCharsmap: Sendable {
    /// Darts-clone units (32-bit).
    private let units: [UInt32]
    private let normalized: [UInt8]

    init(blob: [UInt8]) throws {
        guard blob.count > 4 else {
            throw TokenizerError(.corrupt, "precompiled_charsmap is \(blob.count) bytes; too short for its header")
        }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize < blob.count - 4 + 1, trieSize % 4 == 0, trieSize >= 4 else {
            throw TokenizerError(.corrupt, "precompiled_charsmap announces a \(trieSize)-byte trie in a \(blob.count)-byte blob")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0 ..< units.count {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        self.units = units
        self.normalized = Array(blob[(4 + trieSize)...])
    }

    // Darts-clone unit fields.
    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ u: UInt32) -> Int { Int(u & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & (0x8000_0000 | 0xFF) }
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// Darts `commonPrefixSearch`: calls `body(value, length)` for every key that is a prefix of
    /// `key[start..<end]`, shortest first; `body` returns false to stop.
    private func commonPrefixSearch(_ key: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                    _ body: (Int, Int) -> Bool) {
        guard !units.isEmpty else { return }
        var nodePos = Self.offset(units[0])
        var i = start
        while i < end {
            let c = key[i]
            nodePos ^= Int(c)
            guard nodePos >= 0, nodePos < units.count else { return }
            let unit = units[nodePos]
            if Self.label(unit) != UInt32(c) { return }
            nodePos ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard nodePos < units.count else { return }
                if !body(Self.value(units[nodePos]), i + 1 - start) { return }
            }
            i += 1
        }
    }

    /// The replacement string starting at `offset` in the normalized blob (up to its NUL).
    private func replacement(at offset: Int) -> ArraySlice<UInt8>? {
        guard offset >= 0, offset <= normalized.count else { return nil }
        var e = offset
        while e < normalized.count && normalized[e] != 0 { e += 1 }
        return normalized[offset ..< e]
    }

    /// sentencepiece: the longest rule matching a prefix of `input[start..<end]`, as
    /// (bytes consumed, replacement), or nil when no rule applies.
    func longestMatch(_ input: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (length: Int, replacement: ArraySlice<UInt8>)? {
        var bestLength = 0
        var bestValue = 0
        commonPrefixSearch(input, start, end) { value, length in
            if bestLength == 0 || length > bestLength {
                bestLength = length
                bestValue = value
            }
            return true
        }
        guard bestLength > 0, let r = replacement(at: bestValue) else { return nil }
        return (bestLength, r)
    }

    /// Hugging Face: the replacement of the first (shortest) rule that is a prefix of `chunk`.
    func firstMatch(_ chunk: [UInt8]) -> ArraySlice<UInt8>? {
        var first: Int?
        chunk.withUnsafeBufferPointer { buf in
            commonPrefixSearch(buf, 0, buf.count) { value, _ in
                first = value
                return false
            }
        }
        return first.flatMap { replacement(at: $0) }
    }
}
