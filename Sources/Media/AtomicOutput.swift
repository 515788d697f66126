#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name beside its destination and renamed into place on `commit()`,
/// so readers never see a partial file. Parent folders are created. Until `commit()` succeeds, any
/// error, `abort()` or deinit removes the temporary file. Errors name the path and the system's
/// reason (e.g. "No space left on device (ENOSPC)").
public final class AtomicOutput {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var finished = false
    public private(set) var bytesWritten = 0

    public init(path: String) throws {
        // A file-size limit (ulimit -f) kills the writer with SIGXFSZ by default, leaving its
        // temporary file behind; ignored, the write fails with EFBIG and is reported like a full disk.
        signal(SIGXFSZ, SIG_IGN)
        self.path = path
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw MediaError.writeFailed(path: path, reason: "cannot create folder \(dir): \(error)")
        }
        let base = url.lastPathComponent
        var tmp = ""
        var handle: Int32 = -1
        for _ in 0..<8 {
            tmp = dir + "/." + base + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            handle = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if handle >= 0 || errno != EEXIST { break }
        }
        guard handle >= 0 else { throw MediaError.writeFailed(path: path, reason: AtomicOutput.systemReason(errno)) }
        temporaryPath = tmp
        fd = handle
    }

    deinit { if !finished { discard() } }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard !finished, fd >= 0 else { throw MediaError.writeFailed(path: path, reason: "output already closed") }
        var done = 0
        while done < buffer.count {
            let n = Glibc_write(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = AtomicOutput.systemReason(errno)
                discard()
                throw MediaError.writeFailed(path: path, reason: reason)
            }
            done += n
        }
        bytesWritten += done
    }

    /// Closes the temporary file (where a delayed write error, e.g. of a network file system,
    /// shows); the file stays temporary until `commit()`. Frees the descriptor early when many
    /// files are staged at once.
    public func finishWriting() throws {
        guard !finished else { throw MediaError.writeFailed(path: path, reason: "output already closed") }
        guard fd >= 0 else { return }
        let status = close(fd)
        fd = -1
        if status != 0 {
            let reason = AtomicOutput.systemReason(errno)
            discard()
            throw MediaError.writeFailed(path: path, reason: reason)
        }
    }

    /// Closes the temporary file and renames it onto `path` (replacing an existing file).
    public func commit() throws {
        try finishWriting()
        if rename(temporaryPath, path) != 0 {
            let reason = AtomicOutput.systemReason(errno)
            discard()
            throw MediaError.writeFailed(path: path, reason: reason)
        }
        finished = true
    }

    /// Removes the temporary file; `path` is left untouched.
    public func abort() { if !finished { discard() } }

    private func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        finished = true
    }

    /// Writes a whole file atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let out = try AtomicOutput(path: path)
        try out.write(bytes)
        try out.commit()
    }

    static func systemReason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC: return "\(text) (ENOSPC: the disk is full)"
        case EDQUOT: return "\(text) (EDQUOT: disk quota exceeded)"
        case EACCES: return "\(text) (EACCES)"
        case EROFS: return "\(text) (EROFS)"
        case EFBIG: return "\(text) (EFBIG: the file size limit, ulimit -f, is reached)"
        default: return text
        }
    }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
