@testable import BackendCUDA
import Testing

/// The cache key is SHA-256 (FIPS 180-4 test vectors), so cache files written before keep their names.
struct KernelCacheKeyTests {
    @Test func knownDigests() {
        #expect(KernelCacheKey.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(KernelCacheKey.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(KernelCacheKey.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
