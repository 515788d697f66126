#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX calls a download needs: sizes, appends, fsync, rename, free space.
enum LocalFiles {
    /// The size of a regular file, or nil when there is none.
    static func size(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(st.st_size)
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// The device id of the file system holding `path` (an existing directory).
    static func device(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_dev)
    }

    /// Bytes an unprivileged user may still write on the file system holding `directory`.
    @Sendable static func availableSpace(_ directory: String) throws -> Int64 {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { throw ioError("cannot read the free space of \(directory)") }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw ioError("cannot create the directory \(prefix)") }
        }
    }

    static func remove(_ path: String) { unlink(path) }

    /// Renames within one directory; atomic on POSIX file systems. The directory is synced so the
    /// new name survives a crash.
    static func rename(_ from: String, to: String) throws {
        guard Glibc_rename(from, to) == 0 else { throw ioError("cannot rename \(from) to \(to)") }
        let dir = directory(of: to)
        let fd = open(dir, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Reads a file in 4 MiB chunks (for hashing a kept prefix or an existing file).
    static func read(_ path: String, upTo limit: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ioError("cannot open \(path)") }
        defer { close(fd) }
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = limit
        while remaining > 0 {
            let n = Glibc_read(fd, buffer.baseAddress, Int(min(Int64(chunk), remaining)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ioError("cannot read \(path)") }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= Int64(n)
        }
    }

    static func ioError(_ what: String) -> HubError {
        HubError(.io, "\(what): \(String(cString: strerror(errno)))")
    }
}

/// A file opened for appending; the caller closes it.
final class AppendingFile {
    private let fd: Int32
    let path: String

    /// Opens `path` for appending, creating it; `truncate` empties it first.
    init(_ path: String, truncate: Bool) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw LocalFiles.ioError("cannot open \(path) for writing") }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc_write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            // ENOSPC lands here when the disk fills although the check before passed (another writer).
            guard n > 0 else { throw LocalFiles.ioError("cannot write \(path)") }
            offset += n
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw LocalFiles.ioError("cannot flush \(path)") }
    }

    func close() { _ = Glibc_close(fd) }
}

// The module-level C functions, named apart from the methods above that share their names.
@inline(__always) private func Glibc_rename(_ a: String, _ b: String) -> Int32 { rename(a, b) }
@inline(__always) private func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, p, n) }
@inline(__always) private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
@inline(__always) private func Glibc_close(_ fd: Int32) -> Int32 { close(fd) }
