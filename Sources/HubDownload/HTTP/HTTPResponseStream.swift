import NIOCore
import NIOHTTP1

/// A response whose head has arrived; its body is read from the connection as it is iterated.
/// Valid only inside the closure given to `HTTPConnection.execute`, which closes the connection after.
struct HTTPResponse {
    let head: HTTPResponseHead
    let body: HTTPResponseBody

    var status: HTTPResponseStatus { head.status }
    var headers: HTTPHeaders { head.headers }
}

/// The body as chunks in the order they arrived, read with backpressure: the connection reads more
/// from the socket only while the consumer keeps up. Iterate it once. It ends (nil) only at the
/// body's framed end (Content-Length reached, last chunk, or close for a body delimited by close);
/// a connection that closes or fails before that throws `HTTPClientFailure.closedMidBody`, a stall
/// `HTTPClientFailure.readTimeout`.
struct HTTPResponseBody: AsyncSequence {
    typealias Element = ByteBuffer
    typealias Parts = NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    private let parts: Parts

    init(_ parts: Parts) { self.parts = parts }

    func makeAsyncIterator() -> Iterator { Iterator(parts: parts) }

    struct Iterator: AsyncIteratorProtocol {
        var parts: Parts
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            guard !ended else { return nil }
            let part: HTTPClientResponsePart?
            do {
                part = try await parts.next()
            } catch let failure as HTTPClientFailure {
                throw failure
            } catch {
                throw HTTPClientFailure.closedMidBody(cause: error)
            }
            switch part {
            case .body(let chunk)?:
                return chunk
            case .end?:
                ended = true
                return nil
            case .head?, nil:
                throw HTTPClientFailure.closedMidBody(cause: nil)
            }
        }
    }
}
