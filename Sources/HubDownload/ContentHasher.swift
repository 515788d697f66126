import Digests

/// The running hash of a download, fed in order as bytes are written (and with the kept prefix
/// of a resumed file first), so a finished download needs no second pass over its bytes.
struct ContentHasher {
    private var sha256: SHA256Hasher?
    private var sha1: SHA1Hasher?
    let expected: Checksum

    init(_ expected: Checksum, size: Int64) {
        self.expected = expected
        switch expected {
        case .sha256: sha256 = SHA256Hasher()
        case .gitBlobSHA1:
            var h = SHA1Hasher()
            h.update(Array("blob \(size)\u{0}".utf8))
            sha1 = h
        case .none: break
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        sha256?.update(bytes)
        sha1?.update(bytes)
    }

    /// The hex digest, or nil when nothing is hashed.
    func finalize() -> String? {
        if let h = sha256 { return hexString(h.finalize()) }
        if let h = sha1 { return hexString(h.finalize()) }
        return nil
    }

    /// nil when the content matches; else the digest found.
    func mismatch() -> String? {
        switch expected {
        case .sha256(let want), .gitBlobSHA1(let want):
            let got = finalize() ?? ""
            return got == want ? nil : got
        case .none: return nil
        }
    }
}
