import SystemSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One file of a Hub model repository and where it goes on disk.
public struct HubFile: Sendable, Hashable, CustomStringConvertible {
    /// `owner/name`.
    public var repo: String
    /// A branch, tag or commit.
    public var revision: String
    /// The file's path inside the repository.
    public var path: String
    /// The local file it is written to.
    public var destination: String

    public init(repo: String, revision: String = "main", path: String, destination: String) {
        self.repo = repo
        self.revision = revision
        self.path = path
        self.destination = destination
    }

    public var description: String { "\(repo)/\(path)" }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`, each part percent-encoded as the Hub expects
    /// (the revision as one segment: a branch name may hold a `/`).
    public func resolveURL(endpoint: String) -> String {
        "\(endpoint)/\(Self.encode(repo, keepSlash: true))/resolve/\(Self.encode(revision, keepSlash: false))/\(Self.encode(path, keepSlash: true))"
    }

    static func encode(_ s: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || c == "-" || c == "." || c == "_" || c == "~" || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)])
            }
        }
        return out
    }
}

/// What a HEAD request on the resolve URL says about a file.
public struct RemoteMetadata: Sendable, Equatable {
    public var size: Int64
    public var checksum: Checksum
    /// The commit the revision resolved to (`X-Repo-Commit`), when the server says.
    public var commit: String?
}

/// What a downloaded file is checked against besides its size.
public enum Checksum: Sendable, Equatable {
    /// An LFS file: `X-Linked-Etag` is the SHA-256 of its content.
    case sha256(String)
    /// A file kept in git itself: its `ETag` is the git blob id, SHA-1 of `blob <size>\0<content>`.
    case gitBlobSHA1(String)
    /// The server gave no hash we can recompute: the size is all that is checked.
    case none

    /// From `X-Linked-Etag` (LFS) or `ETag`: quotes and a weak `W/` prefix are dropped; only the
    /// lengths of the two hashes are recognised, anything else checks the size only.
    static func from(linkedEtag: String?, etag: String?) -> Checksum {
        if let l = linkedEtag.map(normalize), l.count == 64, isHex(l) { return .sha256(l) }
        if linkedEtag == nil, let e = etag.map(normalize), e.count == 40, isHex(e) { return .gitBlobSHA1(e) }
        return .none
    }

    static func normalize(_ etag: String) -> String {
        var e = etag.trimmingWhitespace(newlines: false)
        if e.hasPrefix("W/") { e.removeFirst(2) }
        if e.hasPrefix("\""), e.hasSuffix("\""), e.count >= 2 { e = String(e.dropFirst().dropLast()) }
        return e.lowercased()
    }

    static func isHex(_ s: String) -> Bool { s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }

    /// How a verified file was checked, for the report.
    public var method: String {
        switch self {
        case .sha256: return "size and SHA-256"
        case .gitBlobSHA1: return "size and git blob SHA-1"
        case .none: return "size only (the server gave no content hash)"
        }
    }
}
