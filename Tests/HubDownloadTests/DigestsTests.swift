import Crypto
import Digests
import Testing

/// Digests (SHA-256/SHA-1 through NIOSSL's BoringSSL) against FIPS 180 vectors and against
/// swift-crypto, over uneven chunkings, so that the download checks and the kernel cache keys
/// keep the values they had with swift-crypto.
struct DigestsTests {
    static let fips448 = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)

    @Test func sha256KnownVectors() {
        #expect(hexString(SHA256Hasher.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hexString(SHA256Hasher.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(SHA256Hasher.hash(Self.fips448)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var h = SHA256Hasher()
        for chunk in Self.chunks(of: [UInt8](repeating: 0x61, count: 1_000_000), seed: 3) { h.update(chunk) }
        #expect(hexString(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha1KnownVectors() {
        #expect(Self.sha1(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Self.sha1([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(Self.sha1(Self.fips448) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        // A git blob id: `printf 'hello\n' | git hash-object --stdin`.
        #expect(Self.sha1(Array("blob 6\u{0}hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    @Test func agreeWithSwiftCryptoOverChunkings() {
        var rng = SplitMix(seed: 0x5eed)
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 127, 128, 1000, 65_537, 1 << 20] {
            let data = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var ours256 = SHA256Hasher(), ours1 = SHA1Hasher()
            for chunk in Self.chunks(of: data, seed: UInt64(length)) {
                chunk.withUnsafeBytes { ours256.update($0); ours1.update($0) }
            }
            #expect(ours256.finalize() == Array(SHA256.hash(data: data)), "SHA-256 of \(length) bytes")
            #expect(ours1.finalize() == Array(Insecure.SHA1.hash(data: data)), "SHA-1 of \(length) bytes")
        }
    }

    @Test func finalizeLeavesTheStateAndCopiesAreIndependent() {
        var a = SHA256Hasher()
        a.update(Array("ab".utf8))
        let first = a.finalize()
        #expect(a.finalize() == first)
        var b = a
        b.update(Array("c".utf8))
        a.update(Array("x".utf8))
        #expect(hexString(b.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(a.finalize() == Array(SHA256.hash(data: Array("abx".utf8))))
        #expect(first == Array(SHA256.hash(data: Array("ab".utf8))))
    }

    static func sha1(_ bytes: [UInt8]) -> String {
        var h = SHA1Hasher()
        h.update(bytes)
        return hexString(h.finalize())
    }

    /// Splits `data` into pieces of 0 to 200 bytes (empty pieces included).
    static func chunks(of data: [UInt8], seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix(seed: seed)
        var out: [[UInt8]] = []
        var i = 0
        while i < data.count {
            let n = min(Int(rng.next() % 201), data.count - i)
            out.append(Array(data[i..<i + n]))
            i += n
        }
        return out
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
