import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TurboDiffusionServer

/// `turbodiffusion webui`: the page, the JSON API and the job worker in one process (docs/webui.md).
struct WebUICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webui",
        abstract: "Web UI and HTTP API: generate from a browser; models stay loaded between jobs.",
        discussion: """
            Serves the page at / and the JSON API under /api/v1 (OpenAPI document at /api/v1/openapi.json). \
            Binds to the loopback by default; on any other address a token is required (--token, or one \
            is generated and printed) unless --no-auth is given. Videos go to --output_dir; job records and \
            uploads to its .webui folder.
            """
    )

    @Option(help: "Address to listen on (127.0.0.1: this machine only).")
    var host = "127.0.0.1"

    @Option(help: "Port (0: any free port; the URL printed at start names it).")
    var port = 7860

    @Option(name: [.customLong("output_dir"), .customLong("output-dir")], help: "Folder of the videos (the gallery).")
    var outputDir = "outputs"

    @Option(help: "Model of jobs that name none (demo, Wan2.1-1.3B, Wan2.1-14B, Wan2.2-A14B).")
    var model: String?

    @Option(help: "Where to compute: auto, cuda or cpu.")
    var device: DeviceChoice = .auto

    @Option(name: [.customLong("max_vram"), .customLong("max-vram")], help: "Most GPU memory (GiB) generation may hold.")
    var maxVram: Double?

    @Option(help: "GPUs every job's DiT runs on (sequence parallel over NCCL, docs/multi-gpu.md).")
    var gpus = 1

    @Option(help: "Access token (Authorization: Bearer, or the cookie the printed URL sets). Generated when the address is not the loopback.")
    var token: String?

    @Flag(name: [.customLong("no-auth"), .customLong("no_auth")], help: "Serve a non-loopback address without a token (anyone who reaches it can generate and delete).")
    var noAuth = false

    @Option(name: [.customLong("queue_size"), .customLong("queue-size")], help: "Jobs that may wait; more are refused with 429.")
    var queueSize = 16

    @Option(name: [.customLong("max_upload_mb"), .customLong("max-upload-mb")], help: "Largest image upload, MiB.")
    var maxUploadMB = 20

    func validate() throws {
        guard (0 ... 65535).contains(port) else { throw ValidationError("--port must be 0…65535, got \(port)") }
        guard queueSize >= 1 else { throw ValidationError("--queue_size must be at least 1, got \(queueSize)") }
        guard (1 ... 1024).contains(maxUploadMB) else { throw ValidationError("--max_upload_mb must be 1…1024, got \(maxUploadMB)") }
        if noAuth && token != nil { throw ValidationError("--no-auth and --token contradict each other; give one") }
        if let token, token.count < 8 || !token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
            throw ValidationError("--token must be at least 8 characters of letters, digits, - _ .")
        }
        if let model, !["demo", "Wan2.1-1.3B", "Wan2.1-14B", "Wan2.2-A14B"].contains(model) {
            throw ValidationError("--model must be demo, Wan2.1-1.3B, Wan2.1-14B or Wan2.2-A14B, got '\(model)'")
        }
        if let maxVram, !(maxVram > 0) { throw ValidationError("--max_vram must be a positive number of GiB, got \(maxVram)") }
    }

    func run() async throws {
        let logs = LogBuffer()
        logObserver = { logs.append($0) }
        var config = WebUIConfiguration()
        config.host = host
        config.port = port
        config.outputDirectory = outputDir
        config.queueCapacity = queueSize
        config.maxUploadBytes = maxUploadMB << 20
        config.token = token
        if token == nil && !noAuth && !WebUIConfiguration.isLoopback(host) {
            config.token = Self.generateToken()
            logLine("\(host) is not the loopback: requests need the token in the URL below (or give --token, or --no-auth)")
        }
        if noAuth && !WebUIConfiguration.isLoopback(host) {
            logLine("warning: --no-auth on \(host): anyone who can reach this address can generate and delete videos")
        }
        switch model {
        case "demo": config.defaultModels = ["t2v": "demo", "i2v": "demo"]
        case "Wan2.2-A14B": config.defaultModels = ["t2v": "Wan2.1-1.3B", "i2v": "Wan2.2-A14B"]
        case let m?: config.defaultModels = ["t2v": m, "i2v": "Wan2.2-A14B"]
        case nil: config.defaultModels = ["t2v": "Wan2.1-1.3B", "i2v": "Wan2.2-A14B"]
        }
        var flags = ["--device", device.rawValue]
        if let maxVram { flags += ["--max_vram", "\(maxVram)"] }
        if gpus != 1 { flags += ["--gpus", "\(gpus)"] }
        let executor = PipelineExecutor(baseFlags: flags)
        let server: WebUIServer
        do {
            server = try WebUIServer(configuration: config, executor: executor, logs: logs, log: { logLine($0) })
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
        try await server.run { url in
            logLine("TurboDiffusion web UI at \(url)")
            // stdout carries the URL alone, so scripts (and the tests) can read it.
            StandardStreams.writeOutput((url + "\n"))
        }
        logLine("web UI stopped")
    }

    /// 32 characters from the system's random source.
    static func generateToken() -> String {
        var g = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0 ..< 32).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
    }
}
