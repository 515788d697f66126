import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 connection for one request (`Connection: close`): TCP to the origin or the proxy,
/// then for https through a proxy a CONNECT tunnel, then for https TLS (SNI and host name checked),
/// then the HTTP codec. Each stage that fails before the request is sent throws an
/// `HTTPClientFailure` for which `isBeforeRequest` holds.
struct HTTPConnection {
    private let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    private let target: HTTPTarget
    /// Set for a plain-http request through a proxy: the request goes in absolute form with these credentials.
    private let viaPlainProxy: HTTPProxy?

    static func open(_ target: HTTPTarget, via proxy: HTTPProxy?, tls: NIOSSLContext,
                     configuration c: HTTPClientConfiguration) async throws -> HTTPConnection {
        let host = proxy?.host ?? target.host
        let port = proxy?.port ?? target.port
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(c.connectTimeoutSeconds))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port).get()
        } catch {
            throw HTTPClientFailure.connect(host: host, port: port, cause: error)
        }
        do {
            if let proxy, target.secure { try await tunnel(channel, to: target, via: proxy, seconds: c.headTimeoutSeconds) }
            if target.secure { try await handshake(channel, with: target, tls: tls, seconds: c.connectTimeoutSeconds) }
            let wrapped = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(ResponseTimeoutHandler(headSeconds: c.headTimeoutSeconds, readSeconds: c.readTimeoutSeconds))
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
            }.get()
            return HTTPConnection(channel: wrapped, target: target, viaPlainProxy: target.secure ? nil : proxy)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Sends the request (no body) and hands the response to `handle` once its head has arrived;
    /// informational (1xx) heads are skipped. The connection is closed when `handle` returns or throws.
    func execute<T>(_ method: HTTPMethod, headers: HTTPHeaders, isolation: isolated (any Actor)? = #isolation,
                    _ handle: (HTTPResponse) async throws -> T) async throws -> T {
        var h = headers
        h.replaceOrAdd(name: "Host", value: target.hostHeader)
        h.replaceOrAdd(name: "Connection", value: "close")
        if let proxy = viaPlainProxy, let auth = proxy.authorization { h.replaceOrAdd(name: "Proxy-Authorization", value: auth) }
        let head = HTTPRequestHead(version: .http1_1, method: method,
                                   uri: viaPlainProxy == nil ? target.originForm : target.absoluteForm, headers: h)
        return try await channel.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            let responseHead: HTTPResponseHead
            // A server may answer and close before our write completes (the request has no body):
            // a failed write matters only when no response head follows.
            var writeError: (any Error)?
            do { try await outbound.write(contentsOf: [.head(head), .end(nil)]) } catch { writeError = error }
            do {
                responseHead = try await Self.finalHead(&parts)
            } catch let failure as HTTPClientFailure {
                if case .closedBeforeHead(nil) = failure, let writeError { throw HTTPClientFailure.closedBeforeHead(cause: writeError) }
                throw failure
            } catch {
                throw HTTPClientFailure.closedBeforeHead(cause: error)
            }
            return try await handle(HTTPResponse(head: responseHead, body: HTTPResponseBody(parts)))
        }
    }

    private static func finalHead(_ parts: inout HTTPResponseBody.Parts) async throws -> HTTPResponseHead {
        while true {
            guard case .head(let head)? = try await parts.next() else { throw HTTPClientFailure.closedBeforeHead(cause: nil) }
            if head.status.code >= 200 || head.status.code == 101 { return head }
        }
    }

    /// CONNECT `target` through the proxy; on 2xx the channel carries the tunnel's bytes.
    private static func tunnel(_ channel: Channel, to target: HTTPTarget, via proxy: HTTPProxy, seconds: Int64) async throws {
        let answered = channel.eventLoop.makePromise(of: (code: Int, line: String).self)
        let name = "proxy-tunnel"
        let proxyName = "\(proxy.host):\(proxy.port)"
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(
                ProxyTunnelHandler(answered: answered, proxy: proxyName, seconds: seconds), name: name)
        }.get()
        let request = ProxyTunnelHandler.request(target: target.authority, authorization: proxy.authorization)
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        let answer = try await cancellable(answered.futureResult, closing: channel)
        guard (200..<300).contains(answer.code) else {
            throw HTTPClientFailure.proxyRefused(proxy: proxyName, target: target.authority, status: answer.line)
        }
        try await channel.pipeline.removeHandler(name: name).get()
    }

    private static func handshake(_ channel: Channel, with target: HTTPTarget, tls: NIOSSLContext, seconds: Int64) async throws {
        let done = channel.eventLoop.makePromise(of: Void.self)
        let name = "tls-handshake"
        do {
            try await channel.eventLoop.submit {
                // An IP literal is not a valid SNI name; NIOSSL then checks the certificate against the address.
                let ssl = try NIOSSLClientHandler(context: tls, serverHostname: target.hostIsAddress ? nil : target.host)
                try channel.pipeline.syncOperations.addHandler(ssl)
                try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(done: done, seconds: seconds), name: name)
            }.get()
            try await cancellable(done.futureResult, closing: channel)
        } catch {
            throw HTTPClientFailure.tlsHandshake(host: target.host, cause: error)
        }
        try await channel.pipeline.removeHandler(name: name).get()
    }

    /// Waits for `future`; cancelling the task closes the channel, which fails the future.
    private static func cancellable<T: Sendable>(_ future: EventLoopFuture<T>, closing channel: Channel) async throws -> T {
        try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}
