import NIOCore
import NIOTLS

/// Reads a proxy's answer to `CONNECT` (raw bytes, before any TLS): succeeds with the status code and
/// status line once the blank line after the head arrives. Removed from the pipeline afterwards, so
/// the tunnel's bytes go to the TLS handler.
final class ProxyTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// A proxy's answer to CONNECT is a few hundred bytes; more without a blank line is not HTTP.
    static let maxHeadBytes = 16 << 10
    private let answered: EventLoopPromise<(code: Int, line: String)>
    private let proxy: String
    private let seconds: Int64
    private var received: [UInt8] = []
    private var done = false
    private var timer: Scheduled<Void>?

    /// `seconds`: how long the proxy may take to answer.
    init(answered: EventLoopPromise<(code: Int, line: String)>, proxy: String, seconds: Int64) {
        self.answered = answered
        self.proxy = proxy
        self.seconds = seconds
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(seconds)) { [self] in
            fail(.proxyBroken(proxy: proxy, reason: "did not answer CONNECT within \(seconds) s"))
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    /// The request that asks the proxy for a tunnel to `target`.
    static func request(target: String, authorization: String?) -> String {
        var r = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let authorization { r += "Proxy-Authorization: \(authorization)\r\n" }
        return r + "\r\n"
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard let end = Self.headEnd(received) else {
            if received.count > Self.maxHeadBytes { fail(.proxyBroken(proxy: proxy, reason: "answered CONNECT with something that is not an HTTP response")) }
            return
        }
        // A tunnel carries TLS, where the client speaks first: nothing may follow the proxy's head yet.
        guard end == received.count else {
            return fail(.proxyBroken(proxy: proxy, reason: "sent data after its answer to CONNECT before the client spoke"))
        }
        let line = String(decoding: received.prefix { $0 != 13 }, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
            return fail(.proxyBroken(proxy: proxy, reason: "answered CONNECT with '\(line)', not an HTTP status line"))
        }
        done = true
        timer?.cancel()
        answered.succeed((code, String(line.dropFirst(parts[0].count + 1))))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(.proxyBroken(proxy: proxy, reason: "failed while answering CONNECT: \(error)"))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.proxyBroken(proxy: proxy, reason: "closed the connection instead of answering CONNECT"))
        context.fireChannelInactive()
    }

    private func fail(_ failure: HTTPClientFailure) {
        guard !done else { return }
        done = true
        timer?.cancel()
        answered.fail(failure)
    }

    /// The offset just past the first `\r\n\r\n`, or nil.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

/// Completes `done` when the TLS handler in front of it reports a finished handshake, or fails it
/// with the handshake's error (an untrusted certificate, a wrong host name, a closed connection).
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let done: EventLoopPromise<Void>
    private let seconds: Int64
    private var finished = false
    private var timer: Scheduled<Void>?

    /// `seconds`: how long the handshake may take.
    init(done: EventLoopPromise<Void>, seconds: Int64) {
        self.done = done
        self.seconds = seconds
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(seconds)) { [self] in
            finish(.failure(ChannelError.connectTimeout(.seconds(seconds))))
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(ChannelError.eof))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<Void, Error>) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        done.completeWith(result)
    }
}
