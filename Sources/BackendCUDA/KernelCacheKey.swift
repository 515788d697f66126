import Digests

/// The kernel cache's file-name key: SHA-256 of the source, options, NVRTC version and
/// architecture, as lowercase hex.
enum KernelCacheKey {
    static func hex(_ text: String) -> String {
        hexString(SHA256Hasher.hash(Array(text.utf8)))
    }
}
