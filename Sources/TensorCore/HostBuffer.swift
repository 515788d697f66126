#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Host memory: either an owned, 64-byte aligned allocation or a borrowed region of a
/// memory-mapped file (zero-copy checkpoint tensors). Borrowed regions keep their owner alive.
public final class HostBuffer: DeviceBuffer, @unchecked Sendable {
    public var device: Device { .cpu }
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// True for file mappings: backends must never write into these.
    public let isReadOnly: Bool
    private let owner: AnyObject?
    private let ownsAllocation: Bool

    /// Allocates `byteCount` uninitialised bytes.
    public init(byteCount: Int) throws {
        guard byteCount >= 0 else { throw TensorError.invalidArgument("negative allocation size \(byteCount)") }
        var p: UnsafeMutableRawPointer?
        let rc = posix_memalign(&p, 64, max(byteCount, 64))
        guard rc == 0, let p else {
            throw TensorError.outOfMemory("host allocation of \(byteCount) bytes failed")
        }
        base = p
        self.byteCount = byteCount
        isReadOnly = false
        owner = nil
        ownsAllocation = true
    }

    /// Wraps memory owned by `owner` (for example a `MappedFile`) without copying.
    public init(borrowing base: UnsafeRawPointer, byteCount: Int, owner: AnyObject, readOnly: Bool = true) {
        self.base = UnsafeMutableRawPointer(mutating: base)
        self.byteCount = byteCount
        isReadOnly = readOnly
        self.owner = owner
        ownsAllocation = false
    }

    deinit {
        if ownsAllocation { free(base) }
    }
}

/// A whole file mapped read-only. Tensors that view it hold `HostBuffer`s that keep it mapped.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TensorError.invalidArgument("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TensorError.invalidArgument("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw TensorError.invalidArgument("\(path) is not a regular file")
        }
        size = Int(st.st_size)
        if size == 0 {
            // mmap refuses empty files; an empty file is still a valid (if useless) input to parse.
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw TensorError.outOfMemory("cannot map \(path) (\(size) bytes): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// A zero-copy buffer over `length` bytes starting at `offset`; the range must lie inside the file.
    public func buffer(offset: Int, length: Int) throws -> HostBuffer {
        guard offset >= 0, length >= 0, offset <= size, length <= size - offset else {
            throw TensorError.invalidArgument("byte range \(offset)..<\(offset + length) lies outside \(path) (\(size) bytes)")
        }
        return HostBuffer(borrowing: base + offset, byteCount: length, owner: self)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    deinit {
        if size == 0 {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
    }
}
