import SystemSupport
import NIOCore
import NIOHTTP1
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A failure worth another attempt: 429, 5xx, a refused, reset or dropped connection.
struct RetryableFailure: Error {
    let reason: String
    let retryAfter: Double?
}

/// HTTP to the Hub and its CDN. Redirects are followed here, not by the client, so that the token
/// goes only to the endpoint's own host (a signed CDN URL must not receive it) and so that a HEAD
/// stops at the Hub's redirect, whose `X-Linked-*` headers describe the LFS file.
final class HubTransport: Sendable {
    let settings: HubSettings
    private let client: HTTPClient
    static let maxRedirects = 10
    static let userAgent = "turbodiffusion-swift; hub-download/1"

    init(settings: HubSettings) throws {
        self.settings = settings
        do {
            client = try HTTPClient(configuration: HTTPClientConfiguration(
                connectTimeoutSeconds: settings.connectTimeoutSeconds, headTimeoutSeconds: settings.responseTimeoutSeconds,
                readTimeoutSeconds: settings.readTimeoutSeconds, trustRootsPEM: settings.trustRootsPEM))
        } catch {
            throw HubError(.network, "cannot set up TLS (\(error)); check the trusted certificates")
        }
    }

    /// The token goes to the endpoint's host only.
    private func sendsToken(_ url: URL) -> Bool {
        guard settings.token != nil, let endpoint = URL(string: settings.endpoint) else { return false }
        return url.host?.lowercased() == endpoint.host?.lowercased() && url.port == endpoint.port && url.scheme == endpoint.scheme
    }

    /// One request, no redirects followed; `handle` sees the response while its connection is open.
    /// A host that cannot be reached is a `HubError(.network)`; a request that fails after it was
    /// sent (timeouts, early close, garbage) is a `RetryableFailure`.
    func send<T>(_ method: HTTPMethod, _ urlString: String, range from: Int64? = nil,
                 isolation: isolated (any Actor)? = #isolation,
                 _ handle: (HTTPResponse) async throws -> T) async throws -> T {
        guard let url = URL(string: urlString) else { throw HubError(.badResponse, "bad URL \(urlString)") }
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: Self.userAgent)
        headers.add(name: "Accept-Encoding", value: "identity")
        if let token = settings.token, sendsToken(url) { headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let from, from > 0 { headers.add(name: "Range", value: "bytes=\(from)-") }
        let proxy = settings.proxies.proxy(scheme: url.scheme ?? "https", host: url.host ?? "").map {
            HTTPProxy(host: $0.host, port: $0.port, username: $0.username, password: $0.password)
        }
        do {
            return try await client.execute(method, urlString, headers: headers, via: proxy, handle)
        } catch let failure as HTTPClientFailure {
            if Task.isCancelled { throw CancellationError() }
            if failure.isBeforeRequest {
                throw HubError(.network, "cannot connect to \(url.host ?? urlString) (\(failure)); check the network, --endpoint / HF_ENDPOINT and the proxy variables")
            }
            throw RetryableFailure(reason: "\(url.host ?? urlString): \(failure)", retryAfter: nil)
        }
    }

    /// The next URL of a redirect, or nil when `response` is not one.
    static func redirectTarget(_ response: HTTPResponseHead, from current: String) throws -> String? {
        guard [301, 302, 303, 307, 308].contains(response.status.code) else { return nil }
        guard let location = response.headers.first(name: "Location"), !location.isEmpty else {
            throw HubError(.badResponse, "\(current) answered HTTP \(response.status.code) without a Location")
        }
        guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteURL.absoluteString else {
            throw HubError(.badResponse, "\(current) redirected to an unusable Location '\(location)'")
        }
        return next
    }

    /// Throws the error a final (non-redirect, non-success) status means for `file`.
    static func check(_ response: HTTPResponseHead, file: HubFile, url: String) throws {
        let code = Int(response.status.code)
        if (200..<300).contains(code) || code == 416 { return }
        let serverSays = response.headers.first(name: "X-Error-Message").map { " (the Hub says: \($0))" } ?? ""
        switch code {
        case 404:
            throw HubError(.notFound, "\(file.path) was not found in \(file.repo) at revision \(file.revision) (HTTP 404 from \(url))\(serverSays); check the repository, revision and file name, or --endpoint")
        case 401, 403:
            throw HubError(.unauthorized, "\(file.repo) refused access to \(file.path) (HTTP \(code))\(serverSays): the repository is private or gated. Accept its terms on the Hub, then set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)")
        case 429, 500...599:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Double($0.trimmingWhitespace(newlines: false)) }
            throw RetryableFailure(reason: "HTTP \(code) from \(URL(string: url)?.host ?? url)\(serverSays)", retryAfter: retryAfter)
        default:
            throw HubError(.badResponse, "\(file) answered HTTP \(code) from \(url)\(serverSays)")
        }
    }

    /// Runs `body` until it succeeds, a non-retryable error, or the attempts run out; `onRetry` hears
    /// each failure and the delay before the next attempt. `progressed` (set by `body`) restarts the count.
    func withRetries<T>(_ what: String, onRetry: (Int, Double, String) -> Void,
                        _ body: (_ progressed: inout Bool) async throws -> T) async throws -> T {
        var failures = 0
        while true {
            var progressed = false
            do {
                return try await body(&progressed)
            } catch let failure as RetryableFailure {
                if progressed { failures = 0 }
                failures += 1
                guard failures < settings.retry.maxAttempts else {
                    throw HubError(.rateLimitedOrServer, "\(what) failed \(failures) times in a row, last: \(failure.reason). Try again later; what was downloaded is kept and resumes")
                }
                let delay = settings.retry.delay(afterAttempt: failures, retryAfter: failure.retryAfter)
                onRetry(failures, delay, failure.reason)
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    /// HEAD on the resolve URL as `huggingface_hub` does it: a redirect carrying `X-Linked-Size` is
    /// the answer (the LFS file's size and SHA-256); other redirects are followed.
    func metadata(_ file: HubFile, onRetry: (Int, Double, String) -> Void) async throws -> RemoteMetadata {
        try await withRetries("HEAD \(file)", onRetry: onRetry) { _ in
            var url = file.resolveURL(endpoint: settings.endpoint)
            for _ in 0...Self.maxRedirects {
                let r = try await send(.HEAD, url) { $0.head }
                let linkedSize = r.headers.first(name: "X-Linked-Size").flatMap { Int64($0) }
                if linkedSize == nil, let next = try Self.redirectTarget(r, from: url) { url = next; continue }
                if !(300..<400).contains(Int(r.status.code)) { try Self.check(r, file: file, url: url) }
                guard let size = linkedSize ?? r.headers.first(name: "Content-Length").flatMap({ Int64($0) }), size >= 0 else {
                    throw HubError(.badResponse, "\(url) gave no size for \(file.path) (neither X-Linked-Size nor Content-Length)")
                }
                let checksum = Checksum.from(linkedEtag: r.headers.first(name: "X-Linked-Etag"), etag: r.headers.first(name: "ETag"))
                return RemoteMetadata(size: size, checksum: checksum, commit: r.headers.first(name: "X-Repo-Commit"))
            }
            throw HubError(.badResponse, "more than \(Self.maxRedirects) redirects for \(file)")
        }
    }

    /// GET from `offset` on, following redirects; `handle` gets the final response (200, 206 or 416)
    /// while its connection is open.
    func open<T>(_ file: HubFile, from offset: Int64, isolation: isolated (any Actor)? = #isolation,
                 _ handle: (HTTPResponse) async throws -> T) async throws -> T {
        var url = file.resolveURL(endpoint: settings.endpoint)
        for _ in 0...Self.maxRedirects {
            var next: String?
            var result: T?
            try await send(.GET, url, range: offset) { r in
                next = try Self.redirectTarget(r.head, from: url)
                guard next == nil else { return }
                try Self.check(r.head, file: file, url: url)
                result = try await handle(r)
            }
            if let result { return result }
            if let next { url = next }
        }
        throw HubError(.badResponse, "more than \(Self.maxRedirects) redirects for \(file)")
    }
}
