#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Hummingbird
import NIOCore

/// How `turbodiffusion webui` was asked to serve.
public struct WebUIConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (the tests use it); the URL printed at start names the real one.
    public var port = 7860
    public var outputDirectory = "outputs"
    /// Job records and uploads; by default a hidden folder inside the output folder.
    public var stateDirectory: String?
    /// Required as `Authorization: Bearer` or the `td_token` cookie when set.
    public var token: String?
    /// The model of each task when a job names none.
    public var defaultModels: [String: String] = [:]
    public var queueCapacity = 16
    public var maxJSONBytes = 64 << 10
    public var maxUploadBytes = 20 << 20
    public var version = "dev"

    public init() {}

    public var resolvedStateDirectory: String {
        stateDirectory ?? Path.join(outputDirectory, ".webui")
    }

    /// localhost, ::1 or an IPv4 address in 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// One process: the page, the JSON API and the job worker (docs/webui.md).
public final class WebUIServer: Sendable {
    public let configuration: WebUIConfiguration
    let queue: JobQueue
    let store: JobStore
    let hub: EventHub
    let uploads: Uploads
    let outputs: Outputs
    let frames: FrameStore
    let logs: LogBuffer
    let executor: any JobExecutor
    let log: @Sendable (String) -> Void

    public init(configuration: WebUIConfiguration, executor: any JobExecutor, logs: LogBuffer,
                log: @escaping @Sendable (String) -> Void) throws {
        self.configuration = configuration
        self.executor = executor
        self.logs = logs
        self.log = log
        let state = configuration.resolvedStateDirectory
        outputs = try Outputs(directory: configuration.outputDirectory)
        uploads = try Uploads(directory: Path.join(state, "uploads"), maxBytes: configuration.maxUploadBytes)
        store = try JobStore(path: Path.join(state, "jobs.json"))
        frames = try FrameStore(directory: Path.join(state, "frames"))
        hub = EventHub()
        queue = JobQueue(store: store, hub: hub, executor: executor, uploads: uploads, outputs: outputs, frames: frames,
                         capacity: configuration.queueCapacity, log: log)
        let stale = outputs.removeStaleTemporaries()
        if stale > 0 { log("removed \(stale) temporary file(s) that an interrupted write left in \(configuration.outputDirectory)") }
    }

    /// Serves until SIGINT/SIGTERM. `onRunning` gets the URL to open (with the token, when one is required).
    public func run(onRunning: @escaping @Sendable (String) -> Void) async throws {
        queue.start()
        let router = Router(context: BasicRequestContext.self)
        let table = routes()
        router.add(middleware: GuardMiddleware(token: configuration.token, loopbackOnly: Self.isLoopbackOnly(configuration)))
        router.add(middleware: MethodMiddleware(routes: table.map { ($0.method, $0.path) }))
        for route in table {
            router.on(RouterPath(stringLiteral: route.path), method: route.method, use: route.handler)
        }
        let config = configuration
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(config.host, port: config.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                let host = config.host.contains(":") ? "[\(config.host)]" : config.host
                var url = "http://\(host):\(port)/"
                if let token = config.token { url += "?token=\(token)" }
                onRunning(url)
            })
        defer { queue.shutdown() }
        try await app.runService()
    }

    static func isLoopbackOnly(_ c: WebUIConfiguration) -> Bool { WebUIConfiguration.isLoopback(c.host) && c.token == nil }
}

/// Authentication and the checks that keep other web sites out:
/// - with a token, every request but the login link needs `Authorization: Bearer <token>` or the
///   `td_token` cookie; `/?token=<token>` sets the cookie and redirects to `/`;
/// - without one (loopback only), the Host header must name the loopback, so a page elsewhere cannot
///   reach the server through a rebinding DNS name;
/// - always: a request that changes state and carries an Origin must come from this server's own
///   origin (no CORS; a cross-site form post is refused).
struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let loopbackOnly: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        if loopbackOnly, !Self.isLoopbackHost(host) {
            throw APIError(.forbidden, "Host '\(host)' is not the loopback; this server only answers to 127.0.0.1 or localhost")
        }
        if request.method != .get && request.method != .head, let origin = request.headers[.origin] {
            let stripped = origin.replacing("http://", with: "").replacing("https://", with: "")
            guard stripped == host else { throw APIError(.forbidden, "cross-origin request from \(origin) refused") }
        }
        guard let token else { return try await next(request, context) }
        if request.method == .get, request.uri.path == "/", let given = request.uri.queryParameters.get("token") {
            guard Self.equal(given, token) else { throw APIError(.unauthorized, "wrong token") }
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "td_token=\(token); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), Self.equal(String(auth.dropFirst(7)), token) {
            return try await next(request, context)
        }
        if let cookie = Self.cookie("td_token", request.headers[values: .cookie]), Self.equal(cookie, token) {
            return try await next(request, context)
        }
        if request.method == .get, request.uri.path == "/" {
            return Response(status: .unauthorized, headers: [.contentType: "text/html; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: WebPage.loginHTML)))
        }
        throw APIError(.unauthorized, "this server needs its token: Authorization: Bearer <token>, or open the URL printed at start")
    }

    static func isLoopbackHost(_ authority: String) -> Bool {
        var h = authority
        if h.hasPrefix("[") { h = String(h.dropFirst().prefix { $0 != "]" }) }
        else if let colon = h.lastIndex(of: ":") { h = String(h[..<colon]) }
        return WebUIConfiguration.isLoopback(h.lowercased())
    }

    static func cookie(_ name: String, _ values: [String]) -> String? {
        for header in values {
            for pair in header.split(separator: ";") {
                let kv = pair.trimmingWhitespace(newlines: false).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == name { return String(kv[1]) }
            }
        }
        return nil
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0 ..< max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }
}

/// 405 with an Allow header (instead of the router's 404) for a known path asked with a method it
/// does not serve.
struct MethodMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [(method: HTTPRequest.Method, path: String)]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPResponseError where e.status == .notFound && !(e is APIError) {
            let allowed = Self.allowed(routes, request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw e }
            let answer = APIError(.methodNotAllowed, "\(request.method.rawValue) is not served here; allowed: \(allowed.joined(separator: ", "))")
            var response = try answer.response(from: request, context: context)
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
    }

    /// The methods of the routes whose pattern matches `path` (`:name` matches one segment).
    static func allowed(_ routes: [(method: HTTPRequest.Method, path: String)], _ path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.filter { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: true)
            return pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }.map(\.method.rawValue).sorted()
    }
}
