import NIOCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the downloader reports while it works (on the calling task, in order).
public enum DownloadEvent: Sendable {
    /// The file exists with the Hub's size and hash: nothing to fetch.
    case alreadyComplete(HubFile, size: Int64, checked: Checksum)
    /// Offline: the file exists and is used unchecked.
    case presentOffline(HubFile)
    /// Hashing the existing destination, or (`partial`) the kept `.incomplete` prefix before resuming.
    case verifying(HubFile, bytes: Int64, partial: Bool)
    case started(HubFile, size: Int64, resumingAt: Int64)
    case progress(HubFile, received: Int64, size: Int64)
    case retrying(HubFile, attempt: Int, delay: Double, reason: String)
    case finished(HubFile, size: Int64, checked: Checksum)
}

/// Downloads Hub files into place. Invariants: a file appears under its final name only complete
/// and verified (size, and SHA-256 or git blob SHA-1 when the Hub gives one), by an atomic rename of
/// `<destination>.incomplete`; that partial file only ever holds a prefix of the bytes the server
/// sent, so an interrupted or failed transfer resumes with a Range request; a completed transfer
/// whose size or hash is wrong is deleted (which of its bytes are bad cannot be known).
public struct HubDownloader: Sendable {
    public let settings: HubSettings
    /// Free bytes on the file system of a directory (injectable for tests).
    public var availableSpace: @Sendable (String) throws -> Int64
    /// Bytes kept free beyond the downloads themselves.
    public var spaceMargin: Int64 = 64 << 20

    public init(settings: HubSettings, availableSpace: @escaping @Sendable (String) throws -> Int64 = HubDownloader.freeSpace) {
        self.settings = settings
        self.availableSpace = availableSpace
    }

    /// Free bytes for an unprivileged user on the file system of `directory` (statvfs).
    @Sendable public static func freeSpace(_ directory: String) throws -> Int64 { try LocalFiles.availableSpace(directory) }

    public static func partialPath(_ destination: String) -> String { destination + ".incomplete" }

    /// Fetches every file that is not already complete. Metadata is read for all files first, so a
    /// missing file, a refused token or too little disk space is reported before any byte is written.
    public func download(_ files: [HubFile], events: @Sendable (DownloadEvent) -> Void) async throws {
        if settings.offline { return try checkOffline(files, events: events) }
        let transport = try HubTransport(settings: settings)
        do {
            try await run(files, transport: transport, events: events)
        } catch {
            if error is CancellationError || (Task.isCancelled && !(error is HubError)) { throw interrupted(files) }
            throw error
        }
    }

    private func interrupted(_ files: [HubFile]) -> HubError {
        let kept = files.map { Self.partialPath($0.destination) }.filter { LocalFiles.exists($0) }
        let note = kept.isEmpty ? "" : "; kept to resume: \(kept.joined(separator: ", "))"
        return HubError(.interrupted, "download interrupted\(note)")
    }

    private func checkOffline(_ files: [HubFile], events: (DownloadEvent) -> Void) throws {
        let missing = files.filter { LocalFiles.size($0.destination) == nil }
        guard missing.isEmpty else {
            throw HubError(.offline, "HF_HUB_OFFLINE is set, so nothing can be downloaded, and these files are missing: "
                + missing.map(\.destination).joined(separator: ", ") + ". Unset HF_HUB_OFFLINE to fetch them")
        }
        for f in files { events(.presentOffline(f)) }
    }

    private func run(_ files: [HubFile], transport: HubTransport, events: (DownloadEvent) -> Void) async throws {
        var plan: [(HubFile, RemoteMetadata)] = []
        for f in files {
            let meta = try await transport.metadata(f) { n, delay, reason in events(.retrying(f, attempt: n, delay: delay, reason: reason)) }
            try LocalFiles.makeDirectories(LocalFiles.directory(of: f.destination))
            if LocalFiles.size(f.destination) == meta.size {
                events(.verifying(f, bytes: meta.size, partial: false))
                var hasher = ContentHasher(meta.checksum, size: meta.size)
                try LocalFiles.read(f.destination, upTo: meta.size) { hasher.update($0) }
                try Task.checkCancellation()
                if hasher.mismatch() == nil {
                    events(.alreadyComplete(f, size: meta.size, checked: meta.checksum))
                    continue
                }
            }
            plan.append((f, meta))
        }
        try checkSpace(plan)
        for (f, meta) in plan { try await fetch(f, meta, transport: transport, events: events) }
    }

    /// Refuses to start when the files still to fetch do not fit, per file system.
    func checkSpace(_ plan: [(HubFile, RemoteMetadata)]) throws {
        var need: [UInt64: (dir: String, bytes: Int64)] = [:]
        for (f, meta) in plan {
            let dir = LocalFiles.directory(of: f.destination)
            let kept = LocalFiles.size(Self.partialPath(f.destination)).map { $0 <= meta.size ? $0 : 0 } ?? 0
            let key = LocalFiles.device(dir) ?? 0
            need[key, default: (dir, 0)].bytes += meta.size - kept
        }
        for (_, entry) in need.sorted(by: { $0.key < $1.key }) {
            let free = try availableSpace(entry.dir)
            if entry.bytes + spaceMargin > free {
                throw HubError(.insufficientSpace, "not enough disk space in \(entry.dir): the downloads need \(ByteCount.text(entry.bytes)) (plus \(ByteCount.text(spaceMargin)) to spare), \(ByteCount.text(free)) is free. Free some space or choose another --dir")
            }
        }
    }

    private func fetch(_ f: HubFile, _ meta: RemoteMetadata, transport: HubTransport, events: (DownloadEvent) -> Void) async throws {
        let partial = Self.partialPath(f.destination)
        var hasher = ContentHasher(meta.checksum, size: meta.size)
        var have = LocalFiles.size(partial) ?? 0
        if have > meta.size { LocalFiles.remove(partial); have = 0 }
        if have > 0 {
            events(.verifying(f, bytes: have, partial: true))
            try LocalFiles.read(partial, upTo: have) { hasher.update($0) }
        }
        events(.started(f, size: meta.size, resumingAt: have))
        if have < meta.size || !LocalFiles.exists(partial) {
            try await transport.withRetries("GET \(f)", onRetry: { n, d, r in events(.retrying(f, attempt: n, delay: d, reason: r)) }) { progressed in
                let before = have
                defer { progressed = have > before }
                try await receive(f, meta, into: partial, have: &have, hasher: &hasher, transport: transport, events: events)
            }
        }
        if let got = hasher.mismatch() {
            LocalFiles.remove(partial)
            throw HubError(.checksumMismatch, "\(f) is corrupt: its \(meta.checksum.method) should be \(Self.expectedHash(meta.checksum)), the downloaded bytes give \(got). The download was deleted; run the command again")
        }
        try LocalFiles.rename(partial, to: f.destination)
        events(.finished(f, size: meta.size, checked: meta.checksum))
    }

    private static func expectedHash(_ c: Checksum) -> String {
        switch c { case .sha256(let h), .gitBlobSHA1(let h): return h; case .none: return "-" }
    }

    /// One GET from `have` on, appended to `partial`. A body that ends early throws `RetryableFailure`
    /// with `have` advanced past what was written, so the next attempt asks for the rest.
    private func receive(_ f: HubFile, _ meta: RemoteMetadata, into partial: String, have: inout Int64,
                         hasher: inout ContentHasher, transport: HubTransport,
                         events: (DownloadEvent) -> Void) async throws {
        try await transport.open(f, from: have) { response in
            switch response.status.code {
            case 416:
                // The server has nothing from `have` on: what we kept is not a prefix of this file.
                LocalFiles.remove(partial)
                have = 0
                hasher = ContentHasher(meta.checksum, size: meta.size)
                throw RetryableFailure(reason: "the server refused to resume (HTTP 416); starting over", retryAfter: 0)
            case 206:
                guard let range = ContentRange(response.headers.first(name: "Content-Range")), range.start == have else {
                    throw HubError(.badResponse, "\(f): a resumed download answered with Content-Range '\(response.headers.first(name: "Content-Range") ?? "")', expected bytes \(have)-")
                }
                if let total = range.total, total != meta.size { throw sizeMismatch(f, meta, partial, served: total) }
            default:
                // 200: the whole file (a server that ignores Range starts from zero).
                hasher = ContentHasher(meta.checksum, size: meta.size)
                have = 0
                if let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }), length != meta.size {
                    throw sizeMismatch(f, meta, partial, served: length)
                }
            }
            let file = try AppendingFile(partial, truncate: have == 0)
            defer { file.close() }
            var lastEvent = ContinuousClock.now
            do {
                for try await chunk in response.body {
                    try Task.checkCancellation()
                    guard have + Int64(chunk.readableBytes) <= meta.size else {
                        throw sizeMismatch(f, meta, partial, served: have + Int64(chunk.readableBytes))
                    }
                    try chunk.withUnsafeReadableBytes { bytes in
                        try file.write(bytes)
                        hasher.update(bytes)
                    }
                    have += Int64(chunk.readableBytes)
                    if ContinuousClock.now - lastEvent > .milliseconds(100) {
                        lastEvent = .now
                        events(.progress(f, received: have, size: meta.size))
                    }
                }
            } catch let e as HubError {
                throw e
            } catch {
                if Task.isCancelled { throw CancellationError() }
                try file.sync()
                throw RetryableFailure(reason: "the connection dropped after \(ByteCount.text(have)) of \(f.path): \(error)", retryAfter: nil)
            }
            try file.sync()
            events(.progress(f, received: have, size: meta.size))
        }
        guard have == meta.size else {
            throw RetryableFailure(reason: "the server ended \(f.path) after \(ByteCount.text(have)) of \(ByteCount.text(meta.size))", retryAfter: nil)
        }
    }

    private func sizeMismatch(_ f: HubFile, _ meta: RemoteMetadata, _ partial: String, served: Int64) -> HubError {
        LocalFiles.remove(partial)
        return HubError(.sizeMismatch, "\(f): the Hub announced \(meta.size) bytes but the download serves \(served); nothing was kept. Run the command again; if it persists the file changed on the Hub during the download or a proxy alters it")
    }
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
struct ContentRange {
    let start: Int64
    let end: Int64
    let total: Int64?
    init?(_ header: String?) {
        guard let h = header, h.hasPrefix("bytes ") else { return nil }
        let parts = h.dropFirst(6).split(separator: "/", maxSplits: 1)
        let bounds = parts.first?.split(separator: "-") ?? []
        guard parts.count == 2, bounds.count == 2, let s = Int64(bounds[0]), let e = Int64(bounds[1]), e >= s else { return nil }
        start = s
        end = e
        total = Int64(parts[1])
    }
}

/// Decimal byte counts, as the Hub shows sizes.
public enum ByteCount {
    public static func text(_ n: Int64) -> String {
        let d = Double(n)
        if d >= 1e9 { return fixed(d / 1e9, 2) + " GB" }
        if d >= 1e6 { return fixed(d / 1e6, 1) + " MB" }
        if d >= 1e3 { return fixed(d / 1e3, 1) + " kB" }
        return "\(n) B"
    }

    /// `x` with `digits` decimals (no Foundation formatting).
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (x * scale).rounded()
        let whole = Int64(r / scale)
        guard digits > 0 else { return "\(whole)" }
        let frac = Int64(abs(r) - abs(Double(whole)) * scale)
        let f = String(frac)
        return (r < 0 && whole == 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - f.count) + f
    }
}
