#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Hummingbird

/// A 4xx/5xx answer with a JSON body `{"error": {"message": …, "field": …}}`; `field` names the
/// request field (or path/query parameter) that was wrong, when one was.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let field: String?

    public init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, "\(field): \(message)", field: field)
    }

    public static func notFound(_ what: String) -> APIError { APIError(.notFound, "\(what) not found") }

    public var description: String { message }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: String] = ["message": message]
        if let field { body["field"] = field }
        return JSONResponse.make(["error": body], status: status)
    }
}

/// JSON response bodies with a fixed key order (readable in logs and tests).
public enum JSONResponse {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    public static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"message":"response could not be encoded"}}"#.utf8)
        var h = headers
        h[.contentType] = "application/json; charset=utf-8"
        h[.cacheControl] = "no-store"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
