import Crypto
import Foundation

/// A Hub-like HTTP/1.1 server on an ephemeral loopback port, written on raw sockets so that it can
/// misbehave exactly: `HEAD`/`GET {repo}/resolve/{rev}/{path}` answer as huggingface.co does (an LFS
/// file: 302 to a "CDN" on another host name with `X-Linked-Size` and `X-Linked-Etag`; a git file:
/// 200 with its blob id as `ETag`), the CDN serves ranges, and faults queued per file replace the
/// next answers (status codes, dropped or stalled bodies, wrong bytes, ignored ranges).
final class FakeHub: @unchecked Sendable {
    struct Request {
        let method: String
        let path: String
        let headers: [String: String]
        var absoluteForm = false
        var range: String? { headers["range"] }
        var isCDN: Bool { path.hasPrefix("/cdn/") }
    }

    enum Fault {
        case status(Int, retryAfter: String? = nil)
        /// Sends the headers and this many body bytes, then closes the connection.
        case drop(after: Int)
        /// Sends this many body bytes, then waits (until the server stops) without closing.
        case stall(after: Int)
        /// Sends part of the response head, then closes the connection.
        case closeMidHead
        /// The body with one byte changed (same length).
        case corrupt
        /// The body and Content-Length one byte short of what HEAD announced.
        case short
        /// 200 with the whole file although a Range was asked for.
        case ignoreRange
    }

    struct File {
        let content: [UInt8]
        let lfs: Bool
        var sha256: String { Self.hex(SHA256.hash(data: content)) }
        var gitBlob: String {
            var h = Insecure.SHA1()
            h.update(data: Array("blob \(content.count)\u{0}".utf8))
            h.update(data: content)
            return Self.hex(h.finalize())
        }
        static func hex<S: Sequence>(_ d: S) -> String where S.Element == UInt8 { d.map { String(format: "%02x", $0) }.joined() }
    }

    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let lock = NSLock()
    private var files: [String: File] = [:]          // "owner/name/path"
    private var faults: [String: [(stage: Stage, fault: Fault)]] = [:]
    private var log: [Request] = []
    private var renamed: [String: String] = [:]    // old "owner/name" -> new
    private var stopped = false

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [weak self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { if errno == EINTR { continue } else { return } }
                guard let self else { close(c); return }
                Thread.detachNewThread { self.serve(c) }
            }
        }
    }

    deinit { stop() }

    func stop() {
        lock.lock()
        let was = stopped
        stopped = true
        lock.unlock()
        if !was { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
    }

    /// Requests for `old` answer 307 with a relative Location under `new`, as the Hub does for a renamed repository.
    func rename(_ old: String, to new: String) { lock.withLock { renamed[old] = new } }

    func add(repo: String, path: String, content: [UInt8], lfs: Bool) {
        lock.withLock { files["\(repo)/\(path)"] = File(content: content, lfs: lfs) }
    }

    /// Which request a fault replaces.
    enum Stage { case head, resolveGet, body }

    /// Queues `fault` for the next request of `stage` for the file. `.body` is the GET that serves
    /// the bytes: on the CDN for an LFS file, on the resolve URL for a git file.
    func inject(_ fault: Fault, repo: String, path: String, at stage: Stage = .body) {
        lock.withLock { faults["\(repo)/\(path)", default: []].append((stage, fault)) }
    }

    var requests: [Request] { lock.withLock { log } }

    // MARK: serving

    /// One request per connection (`Connection: close`), after an optional CONNECT: the server is
    /// also an HTTP proxy that tunnels to itself, so proxied downloads can be checked.
    private func serve(_ c: Int32) {
        defer { close(c) }
        var tunnelled = false
        while let request = readRequest(c) {
            lock.withLock { log.append(request) }
            if request.method == "CONNECT" && !tunnelled {
                tunnelled = true
                writeAll(c, Array("HTTP/1.1 200 Connection Established\r\n\r\n".utf8))
                continue
            }
            return respond(request, on: c)
        }
    }

    private func readRequest(_ c: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buffer.containsHeaderEnd {
            let n = read(c, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
        let lines = String(decoding: buffer, as: UTF8.self).components(separatedBy: "\r\n")
        let start = lines[0].split(separator: " ")
        guard start.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for l in lines.dropFirst() where l.contains(":") {
            let i = l.firstIndex(of: ":")!
            headers[l[..<i].lowercased()] = l[l.index(after: i)...].trimmingCharacters(in: .whitespaces)
        }
        // A plain-http proxy request is in absolute form; the server side of the proxy serves it itself.
        var path = String(start[1])
        var absolute = false
        if path.hasPrefix("http://") {
            absolute = true
            let rest = path.dropFirst(7)
            path = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
        }
        return Request(method: String(start[0]), path: path, headers: headers, absoluteForm: absolute)
    }

    private func respond(_ r: Request, on c: Int32) {
        let hostHeader = r.headers["host"] ?? "127.0.0.1:\(port)"
        if r.isCDN {
            // /cdn/<owner>/<name>/<path>
            let key = String(r.path.dropFirst(5)).removingPercentEncoding ?? ""
            guard let file = lock.withLock({ files[key] }) else { return send(c, 404, [], body: []) }
            return serveBody(file, key: key, request: r, on: c)
        }
        let parts = r.path.split(separator: "/", maxSplits: 4).map { String($0).removingPercentEncoding ?? "" }
        guard parts.count == 5, parts[2] == "resolve" else { return send(c, 404, [], body: []) }
        if let target = lock.withLock({ renamed["\(parts[0])/\(parts[1])"] }) {
            return send(c, 307, [("Location", "/\(target)/resolve/\(parts[3])/\(parts[4])")], body: [])
        }
        let key = "\(parts[0])/\(parts[1])/\(parts[4])"
        guard let file = lock.withLock({ files[key] }) else {
            return send(c, 404, [("X-Error-Code", "EntryNotFound"), ("X-Error-Message", "Entry not found")], body: [])
        }
        if let fault = takeFault(key, r.method == "HEAD" ? .head : .resolveGet) {
            switch fault {
            case .status(let code, let retryAfter):
                return send(c, code, retryAfter.map { [("Retry-After", $0)] } ?? [], body: [])
            default: break
            }
        }
        var common = [("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")]
        if file.lfs {
            // The CDN is another host name for the same server, so the token must not follow.
            let otherHost = hostHeader.hasPrefix("127.0.0.1") ? "localhost:\(port)" : "127.0.0.1:\(port)"
            common += [("Location", "http://\(otherHost)/cdn/\(key)"), ("X-Linked-Size", "\(file.content.count)"),
                       ("X-Linked-Etag", "\"\(file.sha256)\""), ("ETag", "\"\(file.gitBlob)\"")]
            return send(c, 302, common, body: [])
        }
        common.append(("ETag", "\"\(file.gitBlob)\""))
        if r.method == "HEAD" { return send(c, 200, common + [("Content-Length", "\(file.content.count)")], body: nil) }
        serveBody(file, key: key, request: r, on: c, extra: common)
    }

    private func takeFault(_ key: String, _ stage: Stage) -> Fault? {
        lock.withLock {
            guard let i = faults[key]?.firstIndex(where: { $0.stage == stage }) else { return nil }
            return faults[key]!.remove(at: i).fault
        }
    }

    private func serveBody(_ file: File, key: String, request r: Request, on c: Int32, extra: [(String, String)] = []) {
        var body = file.content
        var status = 200
        var headers = extra
        let fault = takeFault(key, .body)
        var from = 0
        if let range = r.range, range.hasPrefix("bytes="), let f = Int(range.dropFirst(6).split(separator: "-").first ?? ""), !(fault.isIgnoreRange) {
            guard f < body.count else { return send(c, 416, [("Content-Range", "bytes */\(body.count)")], body: []) }
            from = f
            status = 206
            headers.append(("Content-Range", "bytes \(f)-\(body.count - 1)/\(body.count)"))
            body = Array(body[f...])
        }
        switch fault {
        case .status(let code, let retryAfter)?:
            return send(c, code, retryAfter.map { [("Retry-After", $0)] } ?? [], body: [])
        case .corrupt?:
            if !body.isEmpty { body[body.count / 2] ^= 0xFF }
        case .short?:
            body.removeLast()
        case .drop(let n)?:
            return send(c, status, headers + [("Content-Length", "\(body.count)")], body: Array(body.prefix(max(0, n - from))), declared: true)
        case .stall(let n)?:
            send(c, status, headers + [("Content-Length", "\(body.count)")], body: Array(body.prefix(n)), declared: true)
            while !lock.withLock({ stopped }) { usleep(20_000) }
            return
        case .closeMidHead?:
            return writeAll(c, Array("HTTP/1.1 \(status) OK\r\nContent-Le".utf8))
        case .ignoreRange?, nil: break
        }
        send(c, status, headers, body: body)
    }

    /// Writes a response. `body` nil: headers only (HEAD). `declared`: Content-Length is in `headers`.
    private func send(_ c: Int32, _ status: Int, _ headers: [(String, String)], body: [UInt8]?, declared: Bool = false) {
        var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body, !declared { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        writeAll(c, Array(head.utf8) + (body ?? []))
    }

    private func writeAll(_ c: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }
}

private extension Optional where Wrapped == FakeHub.Fault {
    var isIgnoreRange: Bool { if case .ignoreRange? = self { return true } else { return false } }
}

private extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
