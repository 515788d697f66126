import Crypto

/// The kernel cache's file-name key: SHA-256 (swift-crypto) of the source, options, NVRTC version
/// and architecture, as lowercase hex.
enum KernelCacheKey {
    static func hex(_ text: String) -> String {
        let hexDigits = Array("0123456789abcdef")
        var out = ""
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(text.utf8)) {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 15)])
        }
        return out
    }
}
