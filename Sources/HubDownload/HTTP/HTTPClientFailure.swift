/// Why a request failed, by the stage it reached. `isBeforeRequest` tells a host that could not be
/// reached (no route, refused, DNS, proxy refusal, TLS handshake) from a request that was sent and
/// then went wrong (timeouts, a connection closed early, a malformed response), which is worth retrying.
enum HTTPClientFailure: Error, CustomStringConvertible {
    case badURL(String)
    /// TCP to `host:port` (the origin or the proxy) failed, or took longer than the connect timeout.
    case connect(host: String, port: Int, cause: any Error)
    /// The proxy answered the CONNECT for `target` with a status other than 2xx.
    case proxyRefused(proxy: String, target: String, status: String)
    /// The proxy's answer to CONNECT was not an HTTP response, or the connection closed before it.
    case proxyBroken(proxy: String, reason: String)
    case tlsHandshake(host: String, cause: any Error)
    /// No response head within this many seconds of sending the request.
    case headTimeout(seconds: Int64)
    /// No bytes of the body for this many seconds.
    case readTimeout(seconds: Int64)
    /// The connection closed, or the response could not be parsed, before the whole head arrived.
    case closedBeforeHead(cause: (any Error)?)
    /// The connection closed, or failed, before the body's end.
    case closedMidBody(cause: (any Error)?)

    var isBeforeRequest: Bool {
        switch self {
        case .badURL, .connect, .proxyRefused, .proxyBroken, .tlsHandshake: return true
        case .headTimeout, .readTimeout, .closedBeforeHead, .closedMidBody: return false
        }
    }

    var description: String {
        switch self {
        case .badURL(let u): return "not an http:// or https:// URL: \(u)"
        case .connect(let h, let p, let cause): return "cannot open a connection to \(h):\(p): \(cause)"
        case .proxyRefused(let proxy, let target, let status):
            return "the proxy \(proxy) refused to tunnel to \(target): \(status)\(status.hasPrefix("407") ? " (check the user and password in the proxy variable)" : "")"
        case .proxyBroken(let proxy, let reason): return "the proxy \(proxy) \(reason)"
        case .tlsHandshake(let h, let cause): return "TLS handshake with \(h) failed: \(cause)"
        case .headTimeout(let s): return "no response within \(s) s"
        case .readTimeout(let s): return "no data for \(s) s"
        case .closedBeforeHead(let cause): return "the connection closed before the response head" + (cause.map { " (\($0))" } ?? "")
        case .closedMidBody(let cause): return "the connection closed before the end of the body" + (cause.map { " (\($0))" } ?? "")
        }
    }
}
