import Foundation
import Hummingbird
import Testing
@testable import TurboDiffusionServer

typealias BasicRequestContextAlias = BasicRequestContext

/// The OpenAPI document and the route table describe the same API.
@Suite struct OpenAPIDocumentTests {
    let document: [String: Any] = try! JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as! [String: Any]

    func routeTable() throws -> [Route] {
        let dir = try temporaryDirectory()
        var config = WebUIConfiguration()
        config.outputDirectory = dir + "/out"
        let server = try WebUIServer(configuration: config, executor: FakeExecutor(), logs: LogBuffer(), log: { _ in })
        return server.routes()
    }

    @Test func everyAPIRouteIsDocumentedAndEveryDocumentedRouteServed() throws {
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, ops in
            ops.keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) /api/v1\(path)" }
        })
        let served = Set(try routeTable().filter { $0.path.hasPrefix("/api/v1/") }.map { "\($0.method.rawValue) \($0.openAPIPath)" })
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        #expect(served.count == 15)
    }

    @Test func methodsAllowedOnAPath() throws {
        let table = try routeTable().map { ($0.method, $0.path) }
        #expect(MethodMiddleware<BasicRequestContext>.allowed(table, "/api/v1/jobs") == ["GET", "POST"])
        #expect(MethodMiddleware<BasicRequestContext>.allowed(table, "/api/v1/jobs/0123456789abcdef") == ["DELETE", "GET"])
        #expect(MethodMiddleware<BasicRequestContext>.allowed(table, "/api/v1/outputs/a.mp4/") == ["DELETE", "GET"])
        #expect(MethodMiddleware<BasicRequestContext>.allowed(table, "/api/v1/nothing").isEmpty)
    }

    @Test func theJobSchemaHasExactlyTheRequestFields() throws {
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        let properties = try #require(schemas["JobRequest"]?["properties"] as? [String: Any])
        #expect(Set(properties.keys) == JobRequest.fieldNames)
        // Every schema and response that is referred to exists.
        let refs = OpenAPIDocument.json.matches(of: /"\$ref": "#\/components\/(\w+)\/(\w+)"/).map { (String($0.1), String($0.2)) }
        let components = try #require(document["components"] as? [String: [String: Any]])
        for (kind, name) in refs { #expect(components[kind]?[name] != nil, "\(kind)/\(name)") }
        #expect(refs.count > 20)
    }

    @Test func encodedRecordsUseTheDocumentedNames() throws {
        var r = JobRecord(id: "0123456789abcdef", request: JobRequest())
        r.progress = JobProgress(stage: "denoise", step: 1, steps: 4, fraction: 0.3, etaSeconds: 2)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONResponse.encoder.encode(r)) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        let jobKeys = Set(try #require(schemas["Job"]?["properties"] as? [String: Any]).keys)
        #expect(Set(json.keys).isSubset(of: jobKeys), "\(json.keys)")
        let progressKeys = Set(try #require(schemas["Progress"]?["properties"] as? [String: Any]).keys)
        #expect(Set(try #require(json["progress"] as? [String: Any]).keys) == progressKeys)
        #expect(Set(try #require(json["request"] as? [String: Any]).keys).isSubset(of: JobRequest.fieldNames))
    }
}
