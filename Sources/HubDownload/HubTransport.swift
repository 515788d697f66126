import AsyncHTTPClient
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
    private let direct: HTTPClient
    private let viaHTTPSProxy: HTTPClient?
    private let viaHTTPProxy: HTTPClient?
    static let maxRedirects = 10
    static let headTimeoutSeconds: Int64 = 60
    static let userAgent = "turbodiffusion-swift; hub-download/1"

    init(settings: HubSettings) {
        self.settings = settings
        func client(_ proxy: ProxyServer?) -> HTTPClient {
            var c = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                             timeout: .init(connect: .seconds(settings.connectTimeoutSeconds), read: .seconds(60)))
            if let p = proxy {
                let auth = p.username.map { HTTPClient.Authorization.basic(username: $0, password: p.password ?? "") }
                c.proxy = .server(host: p.host, port: p.port, authorization: auth)
            }
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
        }
        direct = client(nil)
        viaHTTPSProxy = settings.proxies.https.map(client)
        viaHTTPProxy = settings.proxies.http.map(client)
    }

    func shutdown() async {
        for c in [direct, viaHTTPSProxy, viaHTTPProxy].compactMap({ $0 }) { try? await c.shutdown() }
    }

    private func client(for url: URL) -> HTTPClient {
        guard settings.proxies.proxy(scheme: url.scheme ?? "https", host: url.host ?? "") != nil else { return direct }
        return (url.scheme == "https" ? viaHTTPSProxy : viaHTTPProxy) ?? direct
    }

    /// The token goes to the endpoint's host only.
    private func sendsToken(_ url: URL) -> Bool {
        guard settings.token != nil, let endpoint = URL(string: settings.endpoint) else { return false }
        return url.host?.lowercased() == endpoint.host?.lowercased() && url.port == endpoint.port && url.scheme == endpoint.scheme
    }

    /// One request, no redirects followed. Connection-level failures become `RetryableFailure`.
    func send(_ method: HTTPMethod, _ urlString: String, range from: Int64? = nil) async throws -> HTTPClientResponse {
        guard let url = URL(string: urlString) else { throw HubError(.badResponse, "bad URL \(urlString)") }
        var request = HTTPClientRequest(url: urlString)
        request.method = method
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let token = settings.token, sendsToken(url) { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let from, from > 0 { request.headers.add(name: "Range", value: "bytes=\(from)-") }
        do {
            // The deadline covers the wait for the response head only, not the body.
            return try await client(for: url).execute(request, deadline: .now() + .seconds(Self.headTimeoutSeconds))
        } catch let e as HubError {
            throw e
        } catch let e as HTTPClientError where e != .connectTimeout {
            if Task.isCancelled { throw CancellationError() }
            throw RetryableFailure(reason: "\(url.host ?? urlString): \(e)", retryAfter: nil)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // Not an HTTP-level failure: the connection (or its TLS handshake) could not be made, and the
            // client has already retried it for the whole connect timeout.
            throw HubError(.network, "cannot connect to \(url.host ?? urlString) (\(error)); check the network, --endpoint / HF_ENDPOINT and the proxy variables")
        }
    }

    /// The next URL of a redirect, or nil when `response` is not one.
    static func redirectTarget(_ response: HTTPClientResponse, from current: String) throws -> String? {
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
    static func check(_ response: HTTPClientResponse, file: HubFile, url: String) throws {
        let code = Int(response.status.code)
        if (200..<300).contains(code) || code == 416 { return }
        let serverSays = response.headers.first(name: "X-Error-Message").map { " (the Hub says: \($0))" } ?? ""
        switch code {
        case 404:
            throw HubError(.notFound, "\(file.path) was not found in \(file.repo) at revision \(file.revision) (HTTP 404 from \(url))\(serverSays); check the repository, revision and file name, or --endpoint")
        case 401, 403:
            throw HubError(.unauthorized, "\(file.repo) refused access to \(file.path) (HTTP \(code))\(serverSays): the repository is private or gated. Accept its terms on the Hub, then set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)")
        case 429, 500...599:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
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
                let r = try await send(.HEAD, url)
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

    /// GET from `offset` on, following redirects; the response is 200, 206 or 416.
    func open(_ file: HubFile, from offset: Int64) async throws -> HTTPClientResponse {
        var url = file.resolveURL(endpoint: settings.endpoint)
        for _ in 0...Self.maxRedirects {
            let r = try await send(.GET, url, range: offset)
            if let next = try Self.redirectTarget(r, from: url) { url = next; continue }
            try Self.check(r, file: file, url: url)
            return r
        }
        throw HubError(.badResponse, "more than \(Self.maxRedirects) redirects for \(file)")
    }
}
