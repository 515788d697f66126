import NIOCore
import NIOHTTP1
import NIOSSL
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Timeouts and trust for `HTTPClient`.
struct HTTPClientConfiguration: Sendable {
    /// TCP connect (and, separately, the TLS handshake).
    var connectTimeoutSeconds: Int64
    /// From the end of the request to the response head (and for a proxy's answer to CONNECT).
    var headTimeoutSeconds: Int64
    /// Longest pause between reads of a body.
    var readTimeoutSeconds: Int64
    /// PEM certificates trusted instead of the system's roots; nil: the system's.
    var trustRootsPEM: String?
}

/// An HTTP proxy: plain-http requests go to it in absolute form, https through a CONNECT tunnel.
struct HTTPProxy: Sendable, Equatable {
    let host: String
    let port: Int
    /// The `Proxy-Authorization` value (basic credentials), if any.
    let authorization: String?

    init(host: String, port: Int, username: String?, password: String?) {
        self.host = host
        self.port = port
        authorization = username.map { "Basic " + Data("\($0):\(password ?? "")".utf8).base64EncodedString() }
    }
}

/// A small HTTP/1.1 client on SwiftNIO: one connection per request, no redirects followed, no
/// content decoding, bodies streamed with backpressure. What it needs is what the Hub downloader
/// needs (HEAD and GET with headers, proxies, TLS); it is not a general client.
final class HTTPClient: Sendable {
    let configuration: HTTPClientConfiguration
    private let tls: NIOSSLContext

    init(configuration: HTTPClientConfiguration) throws {
        self.configuration = configuration
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let pem = configuration.trustRootsPEM {
            tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        }
        tls = try NIOSSLContext(configuration: tlsConfiguration)
    }

    /// Sends `method` to `url` (through `proxy` when given) and hands the response to `handle` once
    /// its head has arrived; the connection closes when `handle` returns. Failures are `HTTPClientFailure`s
    /// (or what `handle` throws).
    func execute<T>(_ method: HTTPMethod, _ url: String, headers: HTTPHeaders, via proxy: HTTPProxy?,
                    isolation: isolated (any Actor)? = #isolation,
                    _ handle: (HTTPResponse) async throws -> T) async throws -> T {
        let target = try HTTPTarget(url)
        let connection = try await HTTPConnection.open(target, via: proxy, tls: tls, configuration: configuration)
        return try await connection.execute(method, headers: headers, handle)
    }
}
