#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// The job records, kept in memory and persisted as one JSON file written atomically (a temporary
/// file renamed over the old one) after every change, so a crash leaves either the old or the new
/// state. Records found queued or running at start belonged to a server that stopped without
/// finishing them: they are marked failed.
public final class JobStore: @unchecked Sendable {
    public let path: String
    private let lock = Lock()
    private var records: [String: JobRecord] = [:]
    /// Oldest first.
    private var order: [String] = []
    /// Finished records beyond this many are dropped, oldest first.
    public let keep: Int

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    public init(path: String, keep: Int = 500) throws {
        self.path = path
        self.keep = keep
        let dir = Path.directory(of: path)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let loaded: [JobRecord]
        do {
            loaded = try decoder.decode([JobRecord].self, from: data)
        } catch {
            throw APIError(.internalServerError, "the job records in \(path) cannot be read (\(error)); move the file away to start afresh")
        }
        var interrupted = false
        for var r in loaded {
            if !r.status.isTerminal {
                r.status = .failed
                r.error = r.startedAt == nil ? "the server stopped before this job started" : "the server stopped while this job ran"
                r.finishedAt = Date()
                interrupted = true
            }
            records[r.id] = r
            order.append(r.id)
        }
        if interrupted { try save() }
    }

    public func get(_ id: String) -> JobRecord? { lock.withLock { records[id] } }

    /// Newest first.
    public func all() -> [JobRecord] { lock.withLock { order.reversed().compactMap { records[$0] } } }

    public func insert(_ r: JobRecord) throws {
        try lock.withLock {
            records[r.id] = r
            order.append(r.id)
            trim()
            try save()
        }
    }

    /// Applies `change` to the record and saves; returns the new record (nil if there is none).
    @discardableResult
    public func update(_ id: String, persist: Bool = true, _ change: (inout JobRecord) -> Void) throws -> JobRecord? {
        try lock.withLock {
            guard var r = records[id] else { return nil }
            change(&r)
            records[id] = r
            if persist { try save() }
            return r
        }
    }

    private func trim() {
        var finished = order.filter { records[$0]?.status.isTerminal == true }
        while finished.count > keep, let oldest = finished.first {
            finished.removeFirst()
            records[oldest] = nil
            order.removeAll { $0 == oldest }
        }
    }

    /// Called with the lock held.
    private func save() throws {
        let data = try Self.encoder.encode(order.compactMap { records[$0] })
        try AtomicFile.write(data, to: path)
    }
}

/// Whole-file atomic writes: a uniquely named temporary file beside the destination, flushed, then renamed.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let dir = Path.directory(of: path)
        let tmp = Path.join(dir, ".\(Path.lastComponent(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(.internalServerError, "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        var ok = true
        data.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                done += n
            }
        }
        let reason = String(cString: strerror(errno))
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw APIError(.internalServerError, "cannot write \(path): \(reason)")
        }
    }
}
