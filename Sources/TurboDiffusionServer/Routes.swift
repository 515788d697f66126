#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Hummingbird
import NIOCore

/// One route of the server. `WebUIServer.routeTable` lists them all; a test checks the list
/// against the OpenAPI document (every API route documented, every documented route served).
public struct Route: Sendable {
    public let method: HTTPRequest.Method
    /// Hummingbird's syntax: `:id` for a parameter.
    public let path: String
    let handler: @Sendable (Request, BasicRequestContext) async throws -> Response

    /// The path in OpenAPI's syntax (`{id}`).
    public var openAPIPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }
}

extension WebUIServer {
    static let api = "/api/v1"

    func routes() -> [Route] {
        let a = Self.api
        return [
            Route(method: .get, path: "/", handler: { _, _ in WebPage.response(WebPage.html, type: "text/html; charset=utf-8") }),
            Route(method: .get, path: "/static/app.css", handler: { _, _ in WebPage.response(WebPage.css, type: "text/css; charset=utf-8") }),
            Route(method: .get, path: "/static/app.js", handler: { _, _ in WebPage.response(WebPage.js, type: "text/javascript; charset=utf-8") }),
            Route(method: .get, path: "\(a)/openapi.json", handler: { _, _ in
                WebPage.response(OpenAPIDocument.json, type: "application/json; charset=utf-8")
            }),
            Route(method: .get, path: "\(a)/health", handler: { [self] _, _ in health() }),
            Route(method: .get, path: "\(a)/models", handler: { [self] _, _ in
                JSONResponse.make(ModelList(models: executor.models(), defaults: configuration.defaultModels))
            }),
            Route(method: .post, path: "\(a)/uploads", handler: { [self] r, _ in try await upload(r) }),
            Route(method: .post, path: "\(a)/jobs", handler: { [self] r, _ in try await submit(r) }),
            Route(method: .get, path: "\(a)/jobs", handler: { [self] _, _ in JSONResponse.make(["jobs": store.all()]) }),
            Route(method: .get, path: "\(a)/jobs/:id", handler: { [self] _, c in JSONResponse.make(try job(c)) }),
            Route(method: .delete, path: "\(a)/jobs/:id", handler: { [self] _, c in try cancel(c) }),
            Route(method: .get, path: "\(a)/jobs/:id/events", handler: { [self] _, c in try events(c) }),
            Route(method: .get, path: "\(a)/jobs/:id/frames/:index", handler: { [self] _, c in try frame(c) }),
            Route(method: .get, path: "\(a)/outputs", handler: { [self] _, _ in JSONResponse.make(["outputs": outputs.list()]) }),
            Route(method: .get, path: "\(a)/outputs/:name", handler: { [self] r, c in try serveOutput(r, c) }),
            Route(method: .delete, path: "\(a)/outputs/:name", handler: { [self] _, c in
                let name = try c.parameters.require("name")
                try outputs.delete(name)
                log("deleted output \(name)")
                return JSONResponse.make(["deleted": name])
            }),
            Route(method: .post, path: "\(a)/restart", handler: { [self] _, _ in
                let running = queue.runningID
                let said = await queue.restart()
                return JSONResponse.make(RestartAnswer(released: said, cancelled: running))
            }),
            Route(method: .get, path: "\(a)/logs", handler: { [self] r, _ in try logLines(r) }),
        ]
    }

    struct ModelList: Encodable { let models: [ModelInfo]; let defaults: [String: String] }
    struct RestartAnswer: Encodable { let released: String; let cancelled: String? }
    struct Health: Encodable {
        let status: String, version: String, queued: Int, running: String?, auth: Bool, queueCapacity: Int
        enum CodingKeys: String, CodingKey { case status, version, queued, running, auth, queueCapacity = "queue_capacity" }
    }

    func health() -> Response {
        JSONResponse.make(Health(status: "ok", version: configuration.version, queued: queue.queuedCount, running: queue.runningID,
                                 auth: configuration.token != nil, queueCapacity: queue.capacity))
    }

    static func body(_ r: Request, limit: Int, field: String = "body") async throws -> [UInt8] {
        do {
            var buffer = try await r.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "\(field): larger than the \(limit >> 10) KiB allowed", field: field)
        }
    }

    func upload(_ r: Request) async throws -> Response {
        if let length = r.headers[.contentLength].flatMap(Int.init), length > configuration.maxUploadBytes + 64 << 10 {
            throw APIError(.contentTooLarge, "image: larger than \(configuration.maxUploadBytes >> 20) MiB", field: "image")
        }
        let bytes = try await Self.body(r, limit: configuration.maxUploadBytes + 64 << 10, field: "image")
        let type = r.headers[.contentType] ?? ""
        let image = type.lowercased().hasPrefix("multipart/form-data") ? try Uploads.multipartFile(bytes, contentType: type) : bytes
        let stored = try uploads.store(image)
        log("upload \(stored.id): \(stored.format) \(stored.width)×\(stored.height)")
        return JSONResponse.make(stored, status: .created)
    }

    func submit(_ r: Request) async throws -> Response {
        let type = (r.headers[.contentType] ?? "").lowercased()
        guard type.hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "Content-Type must be application/json, got '\(type)'", field: "Content-Type")
        }
        let body = try await Self.body(r, limit: configuration.maxJSONBytes)
        let defaults = configuration.defaultModels
        let request = try JobRequest.parse(Data(body), models: executor.models()) { defaults[$0] }
        if let id = request.image, !uploads.exists(id) { throw APIError.invalid("image", "no upload with id '\(id)'") }
        if let info = executor.models().first(where: { $0.id == request.model }), !info.available {
            let missing = info.missing.map { f in f.url.map { "\(f.path) (from \($0))" } ?? f.path }.joined(separator: ", ")
            throw APIError(.conflict, "model: \(request.model) is not installed; missing \(missing)", field: "model")
        }
        let record = try queue.submit(request)
        return JSONResponse.make(["id": record.id, "url": "\(Self.api)/jobs/\(record.id)"], status: .accepted,
                                 headers: [.location: "\(Self.api)/jobs/\(record.id)"])
    }

    func job(_ c: BasicRequestContext) throws -> JobRecord {
        let id = try c.parameters.require("id")
        guard JobRecord.isValidID(id) else { throw APIError.invalid("id", "not a job id (16 hex digits)") }
        guard let r = store.get(id) else { throw APIError.notFound("job \(id)") }
        return r
    }

    func cancel(_ c: BasicRequestContext) throws -> Response {
        let r = try job(c)
        switch try queue.cancel(r.id) {
        case .cancelled(let now): return JSONResponse.make(now)
        case .stopping(let now): return JSONResponse.make(now, status: .accepted)
        case .alreadyFinished(let now):
            throw APIError(.conflict, "job \(now.id) has already \(now.status.rawValue)", field: "id")
        }
    }

    /// Server-sent events: `event: progress` with the record while it is queued or running, then one
    /// `event: done` with the final record; the stream then ends.
    func events(_ c: BasicRequestContext) throws -> Response {
        let r = try job(c)
        let stream = hub.subscribe(r.id) { [store] in store.get(r.id) }
        let body = ResponseBody { writer in
            for await record in stream {
                let json = String(decoding: try JSONResponse.encoder.encode(record), as: UTF8.self)
                let name = record.status.isTerminal ? "done" : "progress"
                try await writer.write(ByteBuffer(string: "event: \(name)\ndata: \(json)\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// One PNG frame of a job that asked for frames; 404 until the job has succeeded.
    func frame(_ c: BasicRequestContext) throws -> Response {
        let r = try job(c)
        let text = try c.parameters.require("index")
        guard let index = Int(text), index >= 0, String(index) == text else {
            throw APIError.invalid("index", "must be a frame number (0, 1, …), got '\(text)'")
        }
        guard r.request.frames else { throw APIError.notFound("frames of job \(r.id) (it was not submitted with \"frames\": true)") }
        guard r.status == .succeeded, let count = r.output?.frames, index < count else {
            throw APIError.notFound("frame \(index) of job \(r.id) (\(r.status.rawValue), \(r.output?.frames ?? 0) frames)")
        }
        let png = try frames.png(r.id, index)
        var buffer = ByteBufferAllocator().buffer(capacity: png.count)
        buffer.writeBytes(png)
        return Response(status: .ok, headers: [.contentType: "image/png", .contentLength: "\(png.count)", .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: buffer))
    }

    func serveOutput(_ r: Request, _ c: BasicRequestContext) throws -> Response {
        let name = try c.parameters.require("name")
        let (fd, size) = try outputs.open(name)
        defer { close(fd) }
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes", .cacheControl: "no-cache"]
        if r.uri.queryParameters.get("download") != nil { headers[.contentDisposition] = "attachment; filename=\"\(name)\"" }
        let range: ClosedRange<Int>
        var status = HTTPResponse.Status.ok
        switch ByteRange.parse(r.headers[.range], size: size) {
        case .whole: range = 0 ... max(0, size - 1)
        case .range(let rr):
            range = rr
            status = .partialContent
            headers[.contentRange] = "bytes \(rr.lowerBound)-\(rr.upperBound)/\(size)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        let count = size == 0 ? 0 : range.count
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { p in
            var done = 0
            while done < count {
                let n = pread(fd, p.baseAddress! + done, count - done, off_t(range.lowerBound + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            return done
        }
        guard read == count else { throw APIError(.internalServerError, "cannot read \(name)") }
        headers[.contentLength] = "\(count)"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }

    func logLines(_ r: Request) throws -> Response {
        var n = 200
        if let s = r.uri.queryParameters.get("lines") {
            guard let v = Int(s), (1 ... logs.capacity).contains(v) else {
                throw APIError.invalid("lines", "must be an integer in 1…\(logs.capacity), got '\(s)'")
            }
            n = v
        }
        return JSONResponse.make(["lines": logs.last(n)])
    }
}
