#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorCore

/// Writes host tensors as one `.safetensors` file, atomically: the bytes go to a temporary
/// file in the destination directory, which is fsynced and renamed over `path`, so readers
/// see either the old file or the complete new one. On any failure the temporary file is
/// removed and the error says why (disk full included).
public enum SafetensorsWriter {
    /// `tensors` keep their order in the JSON header (which is the order `Checkpoint.open`
    /// returns). Data is laid out by decreasing element size so every tensor stays aligned
    /// (safetensors forbids gaps between tensors). Non-contiguous views are written row-major.
    public static func write(_ tensors: [NamedTensor], to path: String, metadata: [String: String] = [:]) throws {
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted else {
                throw CheckpointError(.inconsistent, path: path, "tensor '\(t.name)' is given twice")
            }
            guard t.name != "__metadata__" else {
                throw CheckpointError(.inconsistent, path: path, "'__metadata__' is reserved and cannot name a tensor")
            }
            guard t.tensor.buffer is HostBuffer else {
                throw CheckpointError(.unsupported, path: path, "tensor '\(t.name)' lives on \(t.tensor.device); copy it to the host first")
            }
        }
        let specs = tensors.map { (name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
        let (headerBytes, layout) = header(specs, metadata: metadata)
        try AtomicFile.write(to: path) { out in
            var length = UInt64(headerBytes.count).littleEndian
            try withUnsafeBytes(of: &length) { try out.write($0) }
            try headerBytes.withUnsafeBytes { try out.write($0) }
            for i in layout { try writeElements(tensors[i].tensor, out) }
        }
    }

    /// Streams a file too large to hold in memory: `fill(i, chunk, at)` writes the bytes of tensor
    /// `i` starting at byte `at` of its data into `chunk` (at most 4 MiB at a time). Atomic as `write`.
    public static func write(streaming specs: [(name: String, dtype: DType, shape: [Int])], to path: String,
                             metadata: [String: String] = [:],
                             fill: (_ index: Int, _ chunk: UnsafeMutableRawBufferPointer, _ at: Int) throws -> Void) throws {
        guard Set(specs.map(\.name)).count == specs.count else {
            throw CheckpointError(.inconsistent, path: path, "a tensor name is given twice")
        }
        let (headerBytes, layout) = header(specs, metadata: metadata)
        let capacity = 4 << 20
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { staging.deallocate() }
        try AtomicFile.write(to: path) { out in
            var length = UInt64(headerBytes.count).littleEndian
            try withUnsafeBytes(of: &length) { try out.write($0) }
            try headerBytes.withUnsafeBytes { try out.write($0) }
            for i in layout {
                let total = specs[i].shape.reduce(1, *) * specs[i].dtype.byteSize
                var at = 0
                while at < total {
                    let n = min(capacity, total - at)
                    let chunk = UnsafeMutableRawBufferPointer(rebasing: staging[0..<n])
                    try fill(i, chunk, at)
                    try out.write(UnsafeRawBufferPointer(chunk))
                    at += n
                }
            }
        }
    }

    /// The JSON header (padded to 8 bytes) and the order the tensors' data is laid out in:
    /// decreasing element size, so every tensor stays aligned (safetensors forbids gaps).
    private static func header(_ specs: [(name: String, dtype: DType, shape: [Int])],
                               metadata: [String: String]) -> (bytes: [UInt8], layout: [Int]) {
        let layout = specs.indices.sorted {
            let (a, b) = (specs[$0].dtype.byteSize, specs[$1].dtype.byteSize)
            return a != b ? a > b : $0 < $1
        }
        var begin = [Int](repeating: 0, count: specs.count)
        var cursor = 0
        for i in layout {
            begin[i] = cursor
            cursor += specs[i].shape.reduce(1, *) * specs[i].dtype.byteSize
        }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{" + metadata.keys.sorted().map { "\(jsonQuoted($0)):\(jsonQuoted(metadata[$0]!))" }.joined(separator: ",") + "}"
            if !specs.isEmpty { header += "," }
        }
        header += specs.enumerated().map { i, t in
            let shape = t.shape.map(String.init).joined(separator: ",")
            let bytes = t.shape.reduce(1, *) * t.dtype.byteSize
            return "\(jsonQuoted(t.name)):{\"dtype\":\"\(SafetensorsDType.name(t.dtype))\",\"shape\":[\(shape)],\"data_offsets\":[\(begin[i]),\(begin[i] + bytes)]}"
        }.joined(separator: ",")
        header += "}"
        // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - (headerBytes.count % 8)) % 8)
        return (headerBytes, layout)
    }

    /// Writes the elements of a host tensor in row-major order.
    private static func writeElements(_ t: Tensor, _ out: AtomicFile.Sink) throws {
        let base = UnsafeRawPointer(try t.hostBuffer().base)
        let size = t.dtype.byteSize
        if t.isContiguous {
            try out.write(UnsafeRawBufferPointer(start: base + t.offset * size, count: t.byteCount))
            return
        }
        // Gather through a 1 MiB staging buffer.
        let capacity = 1 << 20
        let staging = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { staging.deallocate() }
        var used = 0
        var failure: Error?
        forEachStridedOffset(shape: t.shape, strides: t.strides, offset: t.offset) { _, e in
            guard failure == nil else { return }
            (staging + used).copyMemory(from: base + e * size, byteCount: size)
            used += size
            if used + size > capacity {
                do { try out.write(UnsafeRawBufferPointer(start: staging, count: used)) } catch { failure = error }
                used = 0
            }
        }
        if let failure { throw failure }
        try out.write(UnsafeRawBufferPointer(start: staging, count: used))
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Write-to-temporary-then-rename with cleanup on failure.
enum AtomicFile {
    final class Sink {
        let fd: Int32
        let path: String
        let finalPath: String
        init(fd: Int32, path: String, finalPath: String) {
            self.fd = fd
            self.path = path
            self.finalPath = finalPath
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = systemWrite(fd, p, min(left, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AtomicFile.error(errno, "writing", finalPath)
                }
                if n == 0 { throw CheckpointError(.io, path: finalPath, "writing made no progress") }
                p += n
                left -= n
            }
        }
    }

    static func error(_ code: Int32, _ doing: String, _ path: String) -> CheckpointError {
        if code == ENOSPC || code == EDQUOT {
            return CheckpointError(.io, path: path, "disk full while \(doing) (\(String(cString: strerror(code)))); nothing was written, the temporary file was removed")
        }
        if code == EFBIG {
            return CheckpointError(.io, path: path, "the file size limit (ulimit -f) was reached while \(doing); nothing was written, the temporary file was removed")
        }
        return CheckpointError(.io, path: path, "\(doing) failed: \(String(cString: strerror(code)))")
    }

    static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        // A file-size limit would kill the process with SIGXFSZ and leave the temporary file;
        // ignored, the write fails with EFBIG and is cleaned up like a full disk.
        signal(SIGXFSZ, SIG_IGN)
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temp = (dir.isEmpty ? "" : dir + "/") + ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, "creating a temporary file in \(dir)", path) }
        let sink = Sink(fd: fd, path: temp, finalPath: path)
        var closed = false
        do {
            try body(sink)
            guard fsync(fd) == 0 else { throw error(errno, "flushing to disk", path) }
            closed = true
            guard close(fd) == 0 else { throw error(errno, "closing", path) }
            guard rename(temp, path) == 0 else { throw error(errno, "renaming the temporary file into place", path) }
        } catch {
            if !closed { close(fd) }
            unlink(temp)
            throw error
        }
        // Make the rename itself durable; a failure here does not undo a completed write.
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
