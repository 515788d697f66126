import SystemSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How to reach the Hub, read from the environment as `huggingface_hub` reads it: `HF_ENDPOINT`,
/// `HF_TOKEN`, `HF_HUB_OFFLINE`, and the proxy variables `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY` (either case; the lower-case one wins, as in curl).
public struct HubSettings: Sendable {
    public static let defaultEndpoint = "https://huggingface.co"

    /// Scheme and host (and port), no trailing slash.
    public var endpoint: String
    public var token: String?
    /// No network at all: files that exist are used as they are, missing ones are an error.
    public var offline: Bool
    public var proxies: ProxySettings
    /// Attempts per request for 429, 5xx and dropped connections, and their backoff.
    public var retry: RetryPolicy
    /// How long opening a connection (and, separately, a TLS handshake) may take before the host
    /// counts as unreachable.
    public var connectTimeoutSeconds: Int64 = 10
    /// How long the server may take to answer a request with its response head.
    public var responseTimeoutSeconds: Int64 = 60
    /// The longest pause in a body before the transfer counts as stalled (and is retried).
    public var readTimeoutSeconds: Int64 = 60
    /// PEM certificates trusted for https instead of the system's roots. nil (the default, and what
    /// the command line always uses) trusts the system's roots; tests set it for a local TLS server.
    public var trustRootsPEM: String?

    public init(endpoint: String = HubSettings.defaultEndpoint, token: String? = nil, offline: Bool = false,
                proxies: ProxySettings = ProxySettings(), retry: RetryPolicy = RetryPolicy()) {
        var e = endpoint
        while e.hasSuffix("/") { e.removeLast() }
        self.endpoint = e
        self.token = token
        self.offline = offline
        self.proxies = proxies
        self.retry = retry
    }

    /// Settings from `environment`; `endpoint` (a command-line flag) overrides `HF_ENDPOINT`.
    public static func fromEnvironment(_ environment: [String: String], endpoint: String? = nil) throws -> HubSettings {
        let e = endpoint ?? environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultEndpoint
        guard e.hasPrefix("http://") || e.hasPrefix("https://"), URL(string: e)?.host != nil else {
            throw HubError(.badResponse, "the Hub endpoint '\(e)' is not an http:// or https:// URL (--endpoint or HF_ENDPOINT)")
        }
        let token = (environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]).flatMap { t in
            let trimmed = t.trimmingWhitespace()
            return trimmed.isEmpty ? nil : trimmed
        }
        return HubSettings(endpoint: e, token: token, offline: isTrue(environment["HF_HUB_OFFLINE"]),
                           proxies: try ProxySettings.fromEnvironment(environment))
    }

    /// `huggingface_hub`'s truth values for boolean variables.
    static func isTrue(_ value: String?) -> Bool {
        guard let v = value?.uppercased() else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(v)
    }
}

/// Attempts and exponential backoff (delay `base`·2^(n−1), at most `maxDelay`; a `Retry-After`
/// of the server is honoured up to `maxDelay`).
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    public init(maxAttempts: Int = 5, baseDelay: Double = 1, maxDelay: Double = 30) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    func delay(afterAttempt n: Int, retryAfter: Double?) -> Double {
        if let r = retryAfter, r >= 0 { return min(r, maxDelay) }
        return min(baseDelay * Double(1 << min(n - 1, 20)), maxDelay)
    }
}

/// An HTTP proxy (CONNECT tunnels for https) with optional basic credentials.
public struct ProxyServer: Sendable, Equatable, Hashable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    /// `http://[user:password@]host[:port]`; the scheme may be left out. SOCKS proxies are refused by name.
    public init(parsing text: String, variable: String) throws {
        var t = text
        if t.hasPrefix("socks") {
            throw HubError(.badResponse, "\(variable)=\(text): SOCKS proxies are not supported; use an HTTP proxy")
        }
        if !t.contains("://") { t = "http://" + t }
        guard let url = URL(string: t), let host = url.host, !host.isEmpty, url.scheme == "http" || url.scheme == "https" else {
            throw HubError(.badResponse, "\(variable)=\(text) is not a proxy URL (http://host:port)")
        }
        self.host = host
        self.port = url.port ?? (url.scheme == "https" ? 443 : 80)
        self.username = url.user.flatMap { percentDecoded($0) }
        self.password = url.password.flatMap { percentDecoded($0) }
    }
}

public struct ProxySettings: Sendable {
    public var https: ProxyServer?
    public var http: ProxyServer?
    /// Host names (and domain suffixes) reached directly; `*` means every host.
    public var noProxy: [String]

    public init(https: ProxyServer? = nil, http: ProxyServer? = nil, noProxy: [String] = []) {
        self.https = https
        self.http = http
        self.noProxy = noProxy
    }

    static func fromEnvironment(_ env: [String: String]) throws -> ProxySettings {
        func value(_ name: String) -> (String, String)? {
            for n in [name.lowercased(), name] { if let v = env[n], !v.isEmpty { return (n, v) } }
            return nil
        }
        let all = try value("ALL_PROXY").map { try ProxyServer(parsing: $0.1, variable: $0.0) }
        let https = try value("HTTPS_PROXY").map { try ProxyServer(parsing: $0.1, variable: $0.0) } ?? all
        let http = try value("HTTP_PROXY").map { try ProxyServer(parsing: $0.1, variable: $0.0) } ?? all
        let noProxy = (value("NO_PROXY")?.1 ?? "").split(separator: ",")
            .map { $0.trimmingWhitespace(newlines: false).lowercased() }.filter { !$0.isEmpty }
        return ProxySettings(https: https, http: http, noProxy: noProxy)
    }

    /// The proxy for a request to `host` over `scheme`, or nil to connect directly.
    public func proxy(scheme: String, host: String) -> ProxyServer? {
        let h = host.lowercased()
        for entry in noProxy {
            if entry == "*" { return nil }
            let domain = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            let hostOnly = domain.split(separator: ":").first.map(String.init) ?? domain
            if h == hostOnly || h.hasSuffix("." + hostOnly) { return nil }
        }
        return scheme == "https" ? https : http
    }
}

/// `%XX` escapes decoded (credentials in a proxy URL); a malformed escape is kept as written.
func percentDecoded(_ s: String) -> String {
    var out: [UInt8] = []
    let b = Array(s.utf8)
    var i = 0
    while i < b.count {
        if b[i] == 0x25, i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
            out.append(v)
            i += 3
        } else {
            out.append(b[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}
