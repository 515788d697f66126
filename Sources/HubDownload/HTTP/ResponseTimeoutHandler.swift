import NIOCore
import NIOHTTP1

/// Two clocks on one request: from the end of the request to the response head (`headTimeout`), then
/// between reads of the body (`readTimeout`). When one runs out the channel fails with
/// `HTTPClientFailure.headTimeout` / `.readTimeout` and closes, which ends the response stream.
/// Pitfall: while the consumer applies backpressure nothing is read either, so a consumer that stalls
/// longer than `readTimeout` (a disk that hangs) is reported as a read timeout as well.
final class ResponseTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let headSeconds: Int64
    private let readSeconds: Int64
    private var timer: Scheduled<Void>?
    private var sent = false
    private var headReceived = false
    private var lastRead = NIODeadline.now()

    init(headSeconds: Int64, readSeconds: Int64) {
        self.headSeconds = headSeconds
        self.readSeconds = readSeconds
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), !sent {
            sent = true
            arm(context, at: .now() + .seconds(headSeconds))
        }
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        if case .head = unwrapInboundIn(data), !headReceived {
            headReceived = true
            arm(context, at: lastRead + .seconds(readSeconds))
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.expired(context)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    /// Reads push the body deadline forward without rescheduling on every chunk: the timer checks
    /// the last read when it fires and sleeps again for the rest.
    private func expired(_ context: ChannelHandlerContext) {
        let failure: HTTPClientFailure
        if !headReceived {
            failure = .headTimeout(seconds: headSeconds)
        } else {
            let idleUntil = lastRead + .seconds(readSeconds)
            if idleUntil > .now() { return arm(context, at: idleUntil) }
            failure = .readTimeout(seconds: readSeconds)
        }
        context.fireErrorCaught(failure)
        context.close(promise: nil)
    }
}
