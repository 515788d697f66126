import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import HubDownload
import Pipeline

/// `turbodiffusion download`: a model's files from the Hugging Face Hub into the paths the
/// generation commands use by default (docs/download.md).
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model's checkpoints from the Hugging Face Hub into the layout the generation commands expect.",
        discussion: """
            Fetches the umT5 encoder, the google/umt5-xxl tokenizer files, the Wan2.1 VAE and the \
            TurboDiffusion DiT checkpoints of each MODEL. Downloads resume after an interruption, \
            are checked against the Hub's size and SHA-256, and appear under their final names only \
            when complete. Files already complete are skipped. Environment: HF_TOKEN (gated or \
            private repositories), HF_ENDPOINT (a mirror), HF_HUB_OFFLINE=1 (no network: only \
            checks that the files exist), HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
            """
    )

    @Argument(help: "Models, as the generation commands' --model: \(ModelCatalog.DownloadModel.allCases.map(\.rawValue).joined(separator: ", ")) (default Wan2.1-1.3B).")
    var models: [String] = []

    @Flag(help: "The W8A8 DiT checkpoints (-quant), for --quant_linear.")
    var quant = false

    @Option(help: "480p or 720p: which DiT checkpoint (Wan2.1-14B has both; default: 480p for the Wan2.1 models, 720p for Wan2.2-A14B).")
    var resolution: String?

    @Option(help: "Folder to download into; the generation commands' defaults read checkpoints/.")
    var dir = ModelCatalog.checkpointsDirectory

    @Option(help: "Hub endpoint (default: HF_ENDPOINT, else https://huggingface.co).")
    var endpoint: String?

    func validate() throws {
        for m in models where ModelCatalog.DownloadModel(rawValue: m) == nil {
            throw ValidationError("unknown model '\(m)'; choose from \(ModelCatalog.DownloadModel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let r = resolution, Resolution(rawValue: r) == nil {
            throw ValidationError("--resolution must be 480p or 720p, got '\(r)'")
        }
        if dir.isEmpty { throw ValidationError("--dir must name a folder") }
    }

    /// Every file of the chosen models, each destination once.
    func files() throws -> [HubFile] {
        let chosen = (models.isEmpty ? [ModelCatalog.DownloadModel.wan21_1_3B.rawValue] : models).compactMap(ModelCatalog.DownloadModel.init)
        var seen = Set<String>()
        var out: [HubFile] = []
        for m in chosen {
            // --resolution applies to the models that have it; the others keep their only one.
            let r = resolution.flatMap(Resolution.init).flatMap { m.resolutions.contains($0) || chosen.count == 1 ? $0 : nil }
            for f in try ModelCatalog.downloads(m, quantized: quant, resolution: r, dir: dir) where seen.insert(f.destination).inserted {
                out.append(f)
            }
        }
        return out
    }

    func run() async throws {
        let files = try files()
        let settings: HubSettings
        do {
            settings = try HubSettings.fromEnvironment(ProcessInfo.processInfo.environment, endpoint: endpoint)
        } catch let e as HubError {
            throw ValidationError(e.description)
        }
        let progress = DownloadProgress(terminal: DownloadProgress.stderrIsTerminal)
        let downloader = HubDownloader(settings: settings)
        logLine("\(files.count) files into \(dir)/ from \(settings.offline ? "nowhere (HF_HUB_OFFLINE is set)" : settings.endpoint)")
        let task = Task { try await downloader.download(files) { progress.handle($0) } }
        let interrupt = Self.cancelOnInterrupt(task)
        defer { interrupt.cancel() }
        do {
            try await task.value
        } catch let e as HubError {
            logLine("error: \(e.description)")
            throw ExitCode(e.kind == .interrupted ? 130 : 1)
        }
        let skipped = progress.skipped.isEmpty ? "" : ", \(progress.skipped.count) already there"
        logLine("done: \(progress.fetched.count) downloaded (\(ByteCount.text(progress.fetchedBytes)))\(skipped)")
    }

    /// Ctrl-C (SIGINT) or SIGTERM cancels the download: the partial file stays as `.incomplete` and
    /// resumes next time. A second signal quits at once (the partial file is still never renamed).
    static func cancelOnInterrupt(_ task: Task<Void, Error>) -> DispatchSourceSignal {
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if task.isCancelled { _exit(128 + sig) }
                logLine("\ninterrupted: stopping (the partial download is kept and resumes next time)")
                task.cancel()
            }
            source.resume()
            return source
        }
        // One handle cancels both.
        sources[0].setCancelHandler { sources[1].cancel() }
        return sources[0]
    }
}
