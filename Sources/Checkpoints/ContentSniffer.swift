/// Recognises what a file is from its first bytes, never from its extension.
enum ContentSniffer {
    enum Guess: Equatable {
        case pytorchZip
        case safetensors
        case json
        /// torch.save's pre-1.6 format: a bare pickle stream starting with a magic number.
        case legacyTorch
        case barePickle
        case foreign(String)
        case unknown
    }

    static func sniff(_ v: ByteView) -> Guess {
        if v.hasPrefix([0x50, 0x4B, 0x03, 0x04]) || v.hasPrefix([0x50, 0x4B, 0x05, 0x06]) { return .pytorchZip }
        // Header lengths up to 2⁴⁸ are sniffed (the reader refuses those over its bound by name);
        // eight bytes of text read as a length are far larger (their top byte is printable).
        if v.count >= 9, let n = try? v.u64(0, ""), n >= 2, n < 1 << 48 {
            // A header with leading whitespace is still recognised, so that the reader can name the rule it breaks.
            var i = 8
            while i < min(v.count, 8 + Int(n)) - 1, [0x20, 0x09, 0x0A, 0x0D].contains(v.bytes[i]) { i += 1 }
            if v.bytes[i] == UInt8(ascii: "{") { return .safetensors }
        }
        if firstNonSpace(v) == UInt8(ascii: "{") { return .json }
        // PROTO 2, LONG1 10 bytes: the magic number 0x1950a86a20f9469cfc6c.
        if v.hasPrefix([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) { return .legacyTorch }
        if v.count >= 2, v.bytes[0] == 0x80, (2 ... 5).contains(v.bytes[1]) { return .barePickle }
        if let name = foreignName(v) { return .foreign(name) }
        return .unknown
    }

    private static func firstNonSpace(_ v: ByteView) -> UInt8? {
        var i = 0
        while i < min(v.count, 4096) {
            let b = v.bytes[i]
            if ![0x20, 0x09, 0x0A, 0x0D].contains(b) { return b }
            i += 1
        }
        return nil
    }

    private static let magics: [([UInt8], Int, String)] = [
        ([0x89, 0x50, 0x4E, 0x47], 0, "PNG image"),
        ([0xFF, 0xD8, 0xFF], 0, "JPEG image"),
        (Array("GIF8".utf8), 0, "GIF image"),
        (Array("RIFF".utf8), 0, "RIFF file (WebP/WAV/AVI)"),
        (Array("ftyp".utf8), 4, "MP4/MOV video"),
        ([0x1F, 0x8B], 0, "gzip data; decompress it first"),
        (Array("BZh".utf8), 0, "bzip2 data; decompress it first"),
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], 0, "xz data; decompress it first"),
        ([0x28, 0xB5, 0x2F, 0xFD], 0, "zstd data; decompress it first"),
        (Array("ustar".utf8), 257, "tar archive; unpack it first"),
        ([0x7F, 0x45, 0x4C, 0x46], 0, "ELF executable"),
        (Array("%PDF".utf8), 0, "PDF document"),
        (Array("GGUF".utf8), 0, "GGUF model, which this program does not read"),
        ([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59], 0, "NumPy .npy array"),
        ([0x89, 0x48, 0x44, 0x46], 0, "HDF5 file"),
        (Array("version https://git-lfs".utf8), 0, "Git LFS pointer, not the weights; run `git lfs pull`"),
    ]

    private static func foreignName(_ v: ByteView) -> String? {
        for (magic, offset, name) in magics where v.hasPrefix(magic, at: offset) { return name }
        let head = UnsafeRawBufferPointer(rebasing: v.bytes[0 ..< min(v.count, 512)])
        let lower = String(decoding: head, as: UTF8.self).lowercased()
        if lower.hasPrefix("<!doctype html") || lower.hasPrefix("<html") || lower.contains("<html") {
            return "HTML page; a failed download?"
        }
        if lower.hasPrefix("<?xml") { return "XML document" }
        let printable = head.filter { $0 >= 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }.count
        if !head.isEmpty, printable == head.count, String(validating: head, as: UTF8.self) != nil { return "text" }
        return nil
    }
}
