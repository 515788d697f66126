#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to the standard streams and reads standard input through the file descriptors
/// (Foundation's `FileHandle` is not in FoundationEssentials).
public enum StandardStreams {
    public static func writeOutput(_ text: String) { write(fd: 1, Array(text.utf8)) }
    public static func writeError(_ text: String) { write(fd: 2, Array(text.utf8)) }

    /// Writes every byte, retrying after interruptions; a closed stream drops the rest.
    public static func write(fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { rawWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }

    /// All of standard input, up to its end.
    public static func readInput() -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return out }
            out += chunk[..<n]
        }
    }
}

/// The C `write` (the enum's own `write` shadows it inside).
private func rawWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, p, n) }

/// A time formatted by the C library's `strftime` (in UTC when `utc`, else local time).
public func formatTime(_ secondsSince1970: Double, _ format: String, utc: Bool = false) -> String {
    var t = time_t(secondsSince1970.rounded(.down))
    var parts = tm()
    if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
    var buffer = [CChar](repeating: 0, count: 128)
    let n = strftime(&buffer, buffer.count, format, &parts)
    return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
