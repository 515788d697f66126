import Foundation
@testable import HubDownload
import Testing

/// The downloader against FakeHub: the Hub's headers, redirects, resumption, verification, retries,
/// errors, offline mode, skipping and the disk-space check.
@Suite struct HubDownloaderTests {
    static let repo = "TurboDiffusion/TurboWan2.1-T2V-1.3B-480P"
    static let name = "model.pth"

    /// Content that differs at every offset, so a misplaced range shows in the hash.
    static func content(_ n: Int, seed: UInt8 = 7) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 * 31 + Int(seed) + $0 / 251) } }

    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [DownloadEvent] = []
        func add(_ e: DownloadEvent) { lock.withLock { list.append(e) } }
        var events: [DownloadEvent] { lock.withLock { list } }
        var retries: Int { events.filter { if case .retrying = $0 { true } else { false } }.count }
        var finished: [Checksum] { events.compactMap { if case .finished(_, _, let c) = $0 { c } else { nil } } }
        var skipped: Int { events.filter { if case .alreadyComplete = $0 { true } else { false } }.count }
    }

    struct Setup {
        let hub: FakeHub
        let dir: String
        var file: HubFile
        var settings: HubSettings
        let recorder = Recorder()

        init(size: Int = 100_000, lfs: Bool = true, token: String? = "hf_secret") throws {
            hub = try FakeHub()
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("hubdl-\(UUID().uuidString)").path
            file = HubFile(repo: HubDownloaderTests.repo, path: HubDownloaderTests.name, destination: "\(dir)/sub/\(HubDownloaderTests.name)")
            settings = HubSettings(endpoint: hub.endpoint, token: token, retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05))
            hub.add(repo: HubDownloaderTests.repo, path: HubDownloaderTests.name, content: HubDownloaderTests.content(size), lfs: lfs)
        }

        func run(space: Int64 = 1 << 40) async throws {
            let rec = recorder
            try await HubDownloader(settings: settings, availableSpace: { _ in space }).download([file]) { rec.add($0) }
        }

        var final: [UInt8]? { FileManager.default.contents(atPath: file.destination).map { [UInt8]($0) } }
        var partialExists: Bool { FileManager.default.fileExists(atPath: HubDownloader.partialPath(file.destination)) }
        var gets: [FakeHub.Request] { hub.requests.filter { $0.method == "GET" } }
        func cleanup() { hub.stop(); try? FileManager.default.removeItem(atPath: dir) }
    }

    static func expectError(_ kind: HubError.Kind, _ body: () async throws -> Void) async -> HubError? {
        do {
            try await body()
            Issue.record("expected a \(kind) error")
            return nil
        } catch let e as HubError {
            #expect(e.kind == kind, "\(e)")
            return e
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func lfsFileThroughRedirectVerifiedBySHA256() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        try await s.run()
        #expect(s.final == Self.content(100_000))
        #expect(!s.partialExists)
        #expect(s.recorder.finished == [.sha256(FakeHub.File(content: Self.content(100_000), lfs: true).sha256)])
        let reqs = s.hub.requests
        // HEAD stops at the Hub's 302 (X-Linked-*); GET follows it to the CDN host.
        #expect(reqs.map(\.method) == ["HEAD", "GET", "GET"])
        #expect(reqs[0].path == "/\(Self.repo)/resolve/main/\(Self.name)")
        #expect(reqs[2].isCDN)
        // The token goes to the Hub only, never to the CDN's other host.
        #expect(reqs[0].headers["authorization"] == "Bearer hf_secret" && reqs[1].headers["authorization"] == "Bearer hf_secret")
        #expect(reqs[2].headers["authorization"] == nil)
        #expect(reqs.allSatisfy { $0.headers["accept-encoding"] == "identity" })
    }

    @Test func renamedRepositoryRelativeRedirectKeepsTheToken() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.hub.rename("Old/name", to: Self.repo)
        s.file.repo = "Old/name"
        try await s.run()
        #expect(s.final == Self.content(100_000))
        let reqs = s.hub.requests
        // HEAD: 307 (relative, same host) then the 302 with X-Linked-*; GET: 307, 302, CDN.
        #expect(reqs.map(\.method) == ["HEAD", "HEAD", "GET", "GET", "GET"])
        #expect(reqs[1].path == "/\(Self.repo)/resolve/main/\(Self.name)" && reqs[1].headers["authorization"] == "Bearer hf_secret")
        #expect(reqs[4].isCDN && reqs[4].headers["authorization"] == nil)
    }

    @Test func httpProxyGetsAbsoluteFormRequestsWithItsCredentials() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        // FakeHub is also the proxy; the endpoint's host name is resolved by the proxy only.
        let proxy = try ProxyServer(parsing: "http://u:pw@127.0.0.1:\(s.hub.port)", variable: "HTTP_PROXY")
        s.settings.endpoint = "http://hub.example"
        s.settings.proxies = ProxySettings(http: proxy)
        try await s.run()
        #expect(s.final == Self.content(100_000))
        let reqs = s.hub.requests
        // Plain http through a proxy: no CONNECT, every request in absolute form with the credentials.
        #expect(reqs.count == 3 && reqs.allSatisfy { $0.absoluteForm && $0.method != "CONNECT" })
        #expect(reqs.first?.headers["host"] == "hub.example")
        #expect(reqs.allSatisfy { $0.headers["proxy-authorization"] == "Basic dTpwdw==" })
        #expect(reqs.last?.isCDN == true && reqs.last?.headers["authorization"] == nil)
    }

    @Test func gitFileVerifiedByBlobSHA1() async throws {
        let s = try Setup(size: 3000, lfs: false)
        defer { s.cleanup() }
        try await s.run()
        #expect(s.final == Self.content(3000))
        guard case .gitBlobSHA1(let h)? = s.recorder.finished.first else { Issue.record("not checked by git blob id"); return }
        #expect(h == FakeHub.File(content: Self.content(3000), lfs: false).gitBlob)
        #expect(s.hub.requests.map(\.method) == ["HEAD", "GET"])
    }

    @Test func dropMidBodyResumesWithRange() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.drop(after: 40_000), repo: Self.repo, path: Self.name)
        try await s.run()
        #expect(s.final == Self.content(100_000))
        #expect(s.recorder.retries == 1)
        // The retry asks for the rest from what was written (the client may not have consumed every
        // byte the server sent before it closed).
        let cdn = s.gets.filter(\.isCDN)
        #expect(cdn.count == 2 && cdn[0].range == nil)
        let resumedAt = cdn.last?.range.flatMap { Int($0.dropFirst(6).dropLast()) } ?? -1
        #expect(resumedAt > 0 && resumedAt <= 40_000, "\(String(describing: cdn.last?.range))")
    }

    @Test func stalledBodyHitsTheReadTimeoutAndResumes() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.settings.readTimeoutSeconds = 1
        s.hub.inject(.stall(after: 30_000), repo: Self.repo, path: Self.name)
        try await s.run()
        #expect(s.final == Self.content(100_000))
        #expect(s.recorder.retries == 1)
        #expect(s.gets.filter(\.isCDN).last?.range == "bytes=30000-")
    }

    @Test func connectionClosedMidHeadIsRetried() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.closeMidHead, repo: Self.repo, path: Self.name)
        try await s.run()
        #expect(s.final == Self.content(100_000))
        #expect(s.recorder.retries == 1)
    }

    @Test func serverIgnoringRangeRestartsFromZero() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.drop(after: 30_000), repo: Self.repo, path: Self.name)
        s.hub.inject(.ignoreRange, repo: Self.repo, path: Self.name)
        try await s.run()
        #expect(s.final == Self.content(100_000))
    }

    @Test func interruptedRunKeepsPartialAndNextRunResumes() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.settings.retry = RetryPolicy(maxAttempts: 1, baseDelay: 0.01)
        s.hub.inject(.drop(after: 60_000), repo: Self.repo, path: Self.name)
        let e = await Self.expectError(.rateLimitedOrServer) { try await s.run() }
        #expect(e?.description.contains("resumes") == true)
        #expect(s.final == nil)
        // The partial file holds a prefix of the file: what was received before the drop.
        let kept = [UInt8](try #require(FileManager.default.contents(atPath: HubDownloader.partialPath(s.file.destination))))
        #expect(kept.count > 0 && kept.count <= 60_000)
        #expect(kept == Array(Self.content(100_000).prefix(kept.count)))
        try await s.run()
        #expect(s.final == Self.content(100_000) && !s.partialExists)
        #expect(s.gets.filter(\.isCDN).last?.range == "bytes=\(kept.count)-")
    }

    @Test func wrongSizeLeavesNothing() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.short, repo: Self.repo, path: Self.name)
        let e = await Self.expectError(.sizeMismatch) { try await s.run() }
        #expect(e?.description.contains("100000") == true)
        #expect(s.final == nil && !s.partialExists)
    }

    @Test func wrongHashLeavesNothing() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.corrupt, repo: Self.repo, path: Self.name)
        let e = await Self.expectError(.checksumMismatch) { try await s.run() }
        #expect(e?.description.contains("SHA-256") == true)
        // The hash covers the whole file, so no prefix of it can be trusted: nothing is kept.
        #expect(s.final == nil && !s.partialExists)
    }

    @Test func rateLimitedThenSucceeds() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.status(429, retryAfter: "0"), repo: Self.repo, path: Self.name, at: .head)
        s.hub.inject(.status(429), repo: Self.repo, path: Self.name)
        try await s.run()
        #expect(s.final == Self.content(100_000))
        #expect(s.recorder.retries == 2)
    }

    @Test func serverErrorsExhaustRetries() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        for _ in 0..<10 { s.hub.inject(.status(503), repo: Self.repo, path: Self.name) }
        let e = await Self.expectError(.rateLimitedOrServer) { try await s.run() }
        #expect(e?.description.contains("HTTP 503") == true && e?.description.contains("4 times") == true)
        #expect(s.gets.filter(\.isCDN).count == 4)
        #expect(s.final == nil)
    }

    @Test func missingFileIs404() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.file.path = "nope.pth"
        let e = await Self.expectError(.notFound) { try await s.run() }
        #expect(e?.description.contains("nope.pth") == true && e?.description.contains("404") == true)
        #expect(s.hub.requests.count == 1)
    }

    @Test func unauthorizedSaysSetHFToken() async throws {
        let s = try Setup(token: nil)
        defer { s.cleanup() }
        s.hub.inject(.status(401), repo: Self.repo, path: Self.name, at: .head)
        let e = await Self.expectError(.unauthorized) { try await s.run() }
        #expect(e?.description.contains("HF_TOKEN") == true)
    }

    @Test func offlineUsesExistingFilesAndNamesMissingOnes() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.settings.offline = true
        let e = await Self.expectError(.offline) { try await s.run() }
        #expect(e?.description.contains(s.file.destination) == true)
        try FileManager.default.createDirectory(atPath: "\(s.dir)/sub", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: s.file.destination, contents: Data([1, 2, 3]))
        try await s.run()
        #expect(s.recorder.events.contains { if case .presentOffline = $0 { true } else { false } })
        #expect(s.hub.requests.isEmpty)
    }

    @Test func completeFileSkippedAfterHashCheck() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        try await s.run()
        let before = s.gets.count
        try await s.run()
        #expect(s.recorder.skipped == 1 && s.gets.count == before)
        // Same size, other bytes: fetched again.
        var bad = Self.content(100_000)
        bad[5] ^= 1
        _ = FileManager.default.createFile(atPath: s.file.destination, contents: Data(bad))
        try await s.run()
        #expect(s.final == Self.content(100_000) && s.gets.count > before)
    }

    @Test func insufficientSpaceRefusedBeforeAnyTransfer() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        let e = await Self.expectError(.insufficientSpace) { try await s.run(space: 50_000) }
        #expect(e?.description.contains("100.0 kB") == true)
        #expect(s.gets.isEmpty && s.final == nil && !s.partialExists)
    }

    @Test func unreachableHostIsANetworkErrorWithoutRetries() async throws {
        var s = try Setup()
        defer { s.cleanup() }
        s.hub.stop()
        s.settings.connectTimeoutSeconds = 1
        let e = await Self.expectError(.network) { try await s.run() }
        #expect(e?.description.contains("cannot connect to 127.0.0.1") == true)
        #expect(s.recorder.retries == 0)
    }

    @Test func cancellationKeepsResumablePartial() async throws {
        let s = try Setup()
        defer { s.cleanup() }
        s.hub.inject(.stall(after: 20_000), repo: Self.repo, path: Self.name)
        let rec = s.recorder
        let downloader = HubDownloader(settings: s.settings, availableSpace: { _ in 1 << 40 })
        let file = s.file
        let task = Task { try await downloader.download([file]) { rec.add($0) } }
        // Wait for the stalled body's bytes to reach the partial file.
        for _ in 0..<500 where (try? FileManager.default.attributesOfItem(atPath: HubDownloader.partialPath(file.destination))[.size] as? Int) != 20_000 {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        task.cancel()
        let e = await Self.expectError(.interrupted) { try await task.value }
        #expect(e?.description.contains(".incomplete") == true)
        #expect(s.final == nil && s.partialExists)
    }
}
