/// An absolute `http://` or `https://` URL split the way an HTTP/1.1 request needs it.
struct HTTPTarget: Sendable, Equatable, CustomStringConvertible {
    let secure: Bool
    /// The host name or address, without the brackets of an IPv6 literal.
    let host: String
    let port: Int
    /// The path and query as written in the URL (still percent-encoded), at least `/`.
    let originForm: String

    init(_ url: String) throws {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            secure = true
            rest = url.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            secure = false
            rest = url.dropFirst(7)
        } else {
            throw HTTPClientFailure.badURL(url)
        }
        let withoutFragment = rest.prefix { $0 != "#" }
        let authorityEnd = withoutFragment.firstIndex { $0 == "/" || $0 == "?" } ?? withoutFragment.endIndex
        // Credentials in a URL are never sent; only the host and port are kept.
        var authority = withoutFragment[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let path = withoutFragment[authorityEnd...]
        originForm = path.isEmpty ? "/" : (path.hasPrefix("?") ? "/" + path : String(path))

        var hostPart = authority
        var portPart: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw HTTPClientFailure.badURL(url) }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty { throw HTTPClientFailure.badURL(url) }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw HTTPClientFailure.badURL(url) }
        host = String(hostPart).lowercased()
        if portPart.isEmpty {
            port = secure ? 443 : 80
        } else {
            guard let p = Int(portPart), (1...65535).contains(p) else { throw HTTPClientFailure.badURL(url) }
            port = p
        }
    }

    var scheme: String { secure ? "https" : "http" }
    private var bracketedHost: String { host.contains(":") ? "[\(host)]" : host }

    /// The `Host` header: the port only when it is not the scheme's default.
    var hostHeader: String { port == (secure ? 443 : 80) ? bracketedHost : "\(bracketedHost):\(port)" }
    /// `host:port`, the target of a CONNECT request.
    var authority: String { "\(bracketedHost):\(port)" }
    /// The request target sent to a plain HTTP proxy.
    var absoluteForm: String { "\(scheme)://\(hostHeader)\(originForm)" }
    var description: String { absoluteForm }

    /// Whether `host` is an IP literal (no SNI is sent for those).
    var hostIsAddress: Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0 == "." || $0.isNumber }
    }
}
