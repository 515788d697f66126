#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// The videos in the output folder. Only plain `.mp4` files directly inside it are visible: names
/// are checked against a strict pattern (no separators, no leading dot, so no traversal and no
/// temporary files of writes in progress), and symbolic links are neither listed, served nor deleted.
public struct Outputs: Sendable {
    public let directory: String

    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var url: String
        public var bytes: Int
        public var modifiedAt: Date
        enum CodingKeys: String, CodingKey { case name, url, bytes, modifiedAt = "modified_at" }
    }

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Letters, digits, `_`, `-`, `.`; starts with a letter or digit; ends in `.mp4`; at most 200 bytes.
    public static func isValidName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard u.count > 4, u.count <= 200, name.hasSuffix(".mp4"), let first = u.first, isAlnum(first) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
            && !name.contains("..")
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (48 ... 57).contains(c) || (65 ... 90).contains(c) || (97 ... 122).contains(c)
    }

    public static func url(_ name: String) -> String { "/api/v1/outputs/\(name)" }

    public func path(_ name: String) -> String { Path.join(directory, name) }

    /// lstat of a valid name: a regular file (not a link) or nil.
    func regularFile(_ name: String) -> stat? {
        guard Self.isValidName(name) else { return nil }
        var st = stat()
        guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return st
    }

    /// Newest first.
    public func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> Entry? in
            guard let st = regularFile(name) else { return nil }
            let mtime = Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
            return Entry(name: name, url: Self.url(name), bytes: Int(st.st_size), modifiedAt: mtime)
        }.sorted { ($0.modifiedAt, $0.name) > ($1.modifiedAt, $1.name) }
    }

    /// Opens a valid name for reading without following a link; the descriptor and the file size.
    public func open(_ name: String) throws -> (fd: Int32, size: Int) {
        guard Self.isValidName(name) else { throw APIError.invalid("name", "not a video name (letters, digits, _ - . and .mp4)") }
        let fd = Glibc.open(path(name), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw APIError.notFound("output \(name)") }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw APIError.notFound("output \(name)")
        }
        return (fd, Int(st.st_size))
    }

    public func delete(_ name: String) throws {
        guard Self.isValidName(name) else { throw APIError.invalid("name", "not a video name (letters, digits, _ - . and .mp4)") }
        guard regularFile(name) != nil else { throw APIError.notFound("output \(name)") }
        guard unlink(path(name)) == 0 else {
            throw APIError(.internalServerError, "cannot delete \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes temporary files that writes interrupted by a crash left behind (`.NAME.tmp-…`).
    public func removeStaleTemporaries() -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed = 0
        for n in names where n.hasPrefix(".") && n.contains(".tmp-") {
            var st = stat()
            if lstat(path(n), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, unlink(path(n)) == 0 { removed += 1 }
        }
        return removed
    }
}

/// An HTTP byte range of a file of `size` bytes (RFC 9110 §14): one range only, which is what
/// browsers ask for when seeking in a video.
public enum ByteRange {
    public enum Parsed: Equatable { case whole, range(ClosedRange<Int>), unsatisfiable }

    public static func parse(_ header: String?, size: Int) -> Parsed {
        guard let header, header.hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingWhitespace(newlines: false)
        // Several ranges would need a multipart answer; the whole file is a valid answer instead.
        if spec.contains(",") { return .whole }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let a = parts[0].trimmingWhitespace(newlines: false), b = parts[1].trimmingWhitespace(newlines: false)
        if a.isEmpty {
            guard let n = Int(b), n > 0 else { return size == 0 ? .unsatisfiable : .whole }
            guard size > 0 else { return .unsatisfiable }
            return .range(max(0, size - n) ... size - 1)
        }
        guard let start = Int(a), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if b.isEmpty { return .range(start ... size - 1) }
        guard let end = Int(b), end >= start else { return .whole }
        return .range(start ... min(end, size - 1))
    }
}
