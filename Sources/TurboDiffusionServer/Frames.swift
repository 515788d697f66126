#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// The PNG frames of jobs that asked for them (`"frames": true`), for clients that need the exact
/// pixels rather than the MP4's (the ComfyUI nodes). One folder per job, `<state>/frames/<job id>/`,
/// holding `frame_00000.png`, `frame_00001.png`, …; only the `keep` most recently written folders
/// are kept, so frames do not pile up like videos (which the user deletes from the gallery).
public struct FrameStore: Sendable {
    public let directory: String
    public let keep: Int

    public init(directory: String, keep: Int = 16) throws {
        self.directory = directory
        self.keep = keep
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The folder of a job (ids are checked by the caller: 16 hex digits, so no traversal).
    public func folder(_ id: String) -> String { Path.join(directory, id) }

    static func fileName(_ index: Int) -> String { String(printf: "frame_%05d.png", index) }

    /// How many frames the job's folder holds: frame_00000.png onwards without a gap.
    public func count(_ id: String) -> Int {
        var n = 0
        var st = stat()
        while lstat(Path.join(folder(id), Self.fileName(n)), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { n += 1 }
        return n
    }

    /// The bytes of frame `index` of job `id`; 404 when there is none.
    public func png(_ id: String, _ index: Int) throws -> [UInt8] {
        guard index >= 0, index < 100_000 else { throw APIError.notFound("frame \(index) of job \(id)") }
        let path = Path.join(folder(id), Self.fileName(index))
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw APIError.notFound("frame \(index) of job \(id)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw APIError.notFound("frame \(index) of job \(id)") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        guard done == bytes.count else { throw APIError(.internalServerError, "cannot read frame \(index) of job \(id)") }
        return bytes
    }

    /// Deletes a job's frames (a failed or cancelled job may have left some).
    public func remove(_ id: String) {
        try? FileManager.default.removeItem(atPath: folder(id))
    }

    /// Deletes all but the `keep` most recently modified job folders.
    public func prune() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let folders = names.compactMap { name -> (String, Double)? in
            var st = stat()
            guard JobRecord.isValidID(name), lstat(Path.join(directory, name), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
            return (name, Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
        }.sorted { ($0.1, $0.0) > ($1.1, $1.0) }
        for (name, _) in folders.dropFirst(keep) { remove(name) }
    }
}
