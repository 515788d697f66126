@testable import HubDownload
import Testing

/// Environment, URLs, ETags and proxy choice, as `huggingface_hub` and curl read them.
struct HubSettingsTests {
    @Test func environment() throws {
        let s = try HubSettings.fromEnvironment(["HF_ENDPOINT": "https://hf-mirror.example/", "HF_TOKEN": " hf_x \n", "HF_HUB_OFFLINE": "yes"])
        #expect(s.endpoint == "https://hf-mirror.example" && s.token == "hf_x" && s.offline)
        let d = try HubSettings.fromEnvironment(["HF_HUB_OFFLINE": "0"])
        #expect(d.endpoint == "https://huggingface.co" && d.token == nil && !d.offline)
        // The flag wins over HF_ENDPOINT.
        #expect(try HubSettings.fromEnvironment(["HF_ENDPOINT": "https://a.example"], endpoint: "http://127.0.0.1:9").endpoint == "http://127.0.0.1:9")
        #expect(throws: HubError.self) { try HubSettings.fromEnvironment(["HF_ENDPOINT": "ftp://x"]) }
    }

    @Test func resolveURLEncodesEachPart() {
        let f = HubFile(repo: "google/umt5-xxl", revision: "refs/pr/1", path: "sub dir/tokenizer.json", destination: "x")
        #expect(f.resolveURL(endpoint: "https://huggingface.co") == "https://huggingface.co/google/umt5-xxl/resolve/refs%2Fpr%2F1/sub%20dir/tokenizer.json")
    }

    @Test func checksumFromHeaders() {
        let sha = String(repeating: "ab", count: 32)
        #expect(Checksum.from(linkedEtag: "\"\(sha.uppercased())\"", etag: "\"x\"") == .sha256(sha))
        let blob = String(repeating: "c", count: 40)
        #expect(Checksum.from(linkedEtag: nil, etag: "W/\"\(blob)\"") == .gitBlobSHA1(blob))
        // A weak or unknown ETag gives no hash to check: the size only, said so.
        #expect(Checksum.from(linkedEtag: nil, etag: "\"1a2b-3c\"") == Checksum.none)
        #expect(Checksum.none.method.contains("size only"))
    }

    @Test func proxiesFromEnvironment() throws {
        let env = ["https_proxy": "http://user:p%40ss@proxy.local:3128", "HTTPS_PROXY": "http://ignored:1",
                   "HTTP_PROXY": "plain.local:8080", "NO_PROXY": "localhost, .internal.example,10.0.0.1"]
        let p = try HubSettings.fromEnvironment(env).proxies
        #expect(p.https == (try ProxyServer(parsing: "http://user:p%40ss@proxy.local:3128", variable: "x")))
        #expect(p.https?.username == "user" && p.https?.password == "p@ss" && p.https?.port == 3128)
        #expect(p.http?.host == "plain.local" && p.http?.port == 8080)
        #expect(p.proxy(scheme: "https", host: "huggingface.co")?.host == "proxy.local")
        #expect(p.proxy(scheme: "http", host: "huggingface.co")?.host == "plain.local")
        #expect(p.proxy(scheme: "https", host: "LOCALHOST") == nil)
        #expect(p.proxy(scheme: "https", host: "cdn.internal.example") == nil)
        #expect(p.proxy(scheme: "https", host: "10.0.0.1") == nil)
        #expect(try HubSettings.fromEnvironment(["ALL_PROXY": "http://all:1", "NO_PROXY": "*"]).proxies.proxy(scheme: "https", host: "x") == nil)
        #expect(throws: HubError.self) { try HubSettings.fromEnvironment(["HTTPS_PROXY": "socks5://x:1"]) }
    }

    @Test func backoff() {
        let r = RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 30)
        #expect(r.delay(afterAttempt: 1, retryAfter: nil) == 1 && r.delay(afterAttempt: 3, retryAfter: nil) == 4)
        #expect(r.delay(afterAttempt: 9, retryAfter: nil) == 30 && r.delay(afterAttempt: 1, retryAfter: 120) == 30)
    }

    @Test func contentRangeAndByteCounts() {
        let r = ContentRange("bytes 100-199/200")
        #expect(r?.start == 100 && r?.end == 199 && r?.total == 200)
        #expect(ContentRange("bytes 1-0/5") == nil && ContentRange("bytes 0-4/*")?.total == nil)
        #expect(ByteCount.text(999) == "999 B" && ByteCount.text(1_500) == "1.5 kB" && ByteCount.text(2_704_000_000) == "2.70 GB")
    }
}
