import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// A `turbodiffusion webui` process on an ephemeral loopback port (the built executable next to the
/// test bundle), run from the repository root so `--model demo` finds models/demo.
final class LiveServer {
    let process = Process()
    let url: URL
    let outputDir: String
    private let stderrPipe = Pipe()

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let binary: URL? = {
        var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start
            for _ in 0 ..< 4 {
                let candidate = dir.appendingPathComponent("turbodiffusion")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// Starts the server and waits for the URL it prints; `outputDir` nil: a fresh temporary folder.
    init(_ extra: [String] = [], outputDir: String? = nil, command: [String] = ["webui"]) throws {
        let dir = outputDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("webui-\(UUID().uuidString)").path
        self.outputDir = dir
        guard let binary = Self.binary else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the turbodiffusion executable was not found next to the test bundle; build it first"])
        }
        process.executableURL = binary
        process.arguments = command + ["--model", "demo", "--device", "cpu", "--port", "0", "--output_dir", dir] + extra
        process.currentDirectoryURL = Self.repositoryRoot
        let out = Pipe()
        process.standardOutput = out
        process.standardError = stderrPipe
        try process.run()
        // The first line on stdout is the URL; stderr is drained so a full pipe cannot stall the server.
        // Raw reads: FileHandle's readers trap on EINTR.
        let errFD = stderrPipe.fileHandleForReading.fileDescriptor, outFD = out.fileHandleForReading.fileDescriptor
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(errFD, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
            }
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(outFD, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 10 { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        url = try #require(URL(string: text), "the server printed no URL (got '\(text)'); status \(process.isRunning ? "running" : "\(process.terminationStatus)")")
    }

    /// SIGKILL: what a crash looks like to the next start.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var base: URL { url.deletingLastPathComponent().appendingPathComponent("") }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request; `path` is relative to the server's root ("api/v1/health").
    func request(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:],
                 timeout: Double = 120, followRedirects: Bool = true) throws -> Reply {
        let target = URL(string: "http://\(url.host!):\(url.port!)/" + path)!
        var r = URLRequest(url: target, timeoutInterval: timeout)
        r.httpMethod = method
        if let json {
            r.httpBody = try JSONSerialization.data(withJSONObject: json)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let body { r.httpBody = body }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var reply: Result<Reply, any Error> = .failure(URLError(.timedOut))
        let config = URLSessionConfiguration.ephemeral
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        let session = URLSession(configuration: config, delegate: followRedirects ? nil : NoRedirects(), delegateQueue: nil)
        session.dataTask(with: r) { data, response, error in
            if let error { reply = .failure(error) } else if let h = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in h.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
                reply = .success(Reply(status: h.statusCode, headers: headers, body: data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        return try reply.get()
    }

    /// The events of a job's stream, in order, until the server ends it.
    func events(_ id: String) throws -> [(name: String, record: [String: Any])] {
        let r = try request("GET", "api/v1/jobs/\(id)/events")
        #expect(r.status == 200 && r.headers["content-type"] == "text/event-stream")
        var events: [(String, [String: Any])] = []
        for block in r.text.components(separatedBy: "\n\n") where !block.isEmpty {
            var name = "", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            events.append((name, (try JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]))
        }
        return events
    }

    /// Polls a job until it reaches a terminal state.
    func wait(_ id: String, seconds: Double = 120) throws -> [String: Any] {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let r = try request("GET", "api/v1/jobs/\(id)").json
            if let s = r["status"] as? String, ["succeeded", "failed", "cancelled"].contains(s) { return r }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try request("GET", "api/v1/jobs/\(id)").json
    }
}

/// Hands a redirect back to the caller instead of following it.
final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
