// SHA-256 and SHA-1 from the BoringSSL that swift-nio-ssl already links for TLS.
//
// Pitfall: `CNIOBoringSSL` is swift-nio-ssl's vendored BoringSSL target, not one of its products; it
// is importable because this target depends on the `NIOSSL` product, whose module maps SwiftPM puts
// on the include path. We use it instead of swift-crypto, which carries a second copy of BoringSSL
// (about 2 MiB of the static release binary, docs/download.md). If a swift-nio-ssl release stops
// exposing it, this file fails to compile; it cannot silently hash differently, because
// DigestsTests checks it against FIPS 180 vectors and against swift-crypto.
import CNIOBoringSSL

/// Incremental SHA-256 (FIPS 180-4). A value type: a copy continues independently.
public struct SHA256Hasher {
    private var context = SHA256_CTX()

    public init() {
        SHA256_Init(&context)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        SHA256_Update(&context, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of everything given so far; the hasher itself is left as it was.
    public func finalize() -> [UInt8] {
        var copy = context
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        digest.withUnsafeMutableBufferPointer { _ = SHA256_Final($0.baseAddress, &copy) }
        return digest
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256Hasher()
        h.update(bytes)
        return h.finalize()
    }
}

/// Incremental SHA-1 (FIPS 180-4). Not collision resistant: only for identifiers that are SHA-1
/// by definition (git blob ids), never as a security check on its own.
public struct SHA1Hasher {
    private var context = SHA_CTX()

    public init() {
        SHA1_Init(&context)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        SHA1_Update(&context, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 20-byte digest of everything given so far; the hasher itself is left as it was.
    public func finalize() -> [UInt8] {
        var copy = context
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        digest.withUnsafeMutableBufferPointer { _ = SHA1_Final($0.baseAddress, &copy) }
        return digest
    }
}

/// Lowercase hexadecimal, two digits a byte (the form of Hub ETags and of cache keys).
public func hexString<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    let digits = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.underestimatedCount * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}
