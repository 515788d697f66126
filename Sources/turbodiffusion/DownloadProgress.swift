#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import HubDownload

/// Download progress on stderr. On a terminal: one bar per file, redrawn in place, with bytes,
/// rate and ETA. Otherwise (a log, CI): a line when a file starts, at every tenth of it, and when
/// it ends. Events arrive in order from the downloading task; the lock guards the counters.
final class DownloadProgress: @unchecked Sendable {
    private let lock = Lock()
    private let terminal: Bool
    private var started = ContinuousClock.now
    private var startBytes: Int64 = 0
    private var lastTenth = -1
    private var barShown = false
    private(set) var fetched: [String] = []
    private(set) var fetchedBytes: Int64 = 0
    private(set) var skipped: [String] = []

    init(terminal: Bool) { self.terminal = terminal }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    func handle(_ event: DownloadEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .verifying(let f, let bytes, let partial):
            line("checking \(partial ? HubDownloader.partialPath(f.destination) : f.destination) (\(ByteCount.text(bytes)))…")
        case .alreadyComplete(let f, _, let checked):
            skipped.append(f.destination)
            line("\(f.destination): already complete (\(checked.method) match the Hub), skipped")
        case .presentOffline(let f):
            skipped.append(f.destination)
            line("\(f.destination): present; HF_HUB_OFFLINE is set, so it was not checked against the Hub")
        case .started(let f, let size, let at):
            started = .now
            startBytes = at
            lastTenth = size > 0 ? Int(at * 10 / size) : 10
            let resume = at > 0 ? ", resuming at \(ByteCount.text(at))" : ""
            line("downloading \(f) -> \(f.destination) (\(ByteCount.text(size))\(resume))")
        case .progress(let f, let received, let size):
            progress(f, received: received, size: size)
        case .retrying(let f, let attempt, let delay, let reason):
            line("\(f.path): \(reason); retrying in \(ProgressPrinter.duration(delay)) (failure \(attempt))")
        case .finished(let f, let size, let checked):
            fetched.append(f.destination)
            fetchedBytes += size
            let seconds = elapsed()
            let rate = seconds > 0 ? ", \(Self.rate(Double(size - startBytes) / seconds))" : ""
            let resumed = startBytes > 0 ? " (\(ByteCount.text(size - startBytes)) of it now)" : ""
            line("\(f.destination): \(ByteCount.text(size))\(resumed) in \(ProgressPrinter.duration(seconds))\(rate), \(checked.method) verified")
        }
    }

    private func elapsed() -> Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func rate(_ bytesPerSecond: Double) -> String { ByteCount.text(Int64(bytesPerSecond)) + "/s" }

    /// "[########------------]  40%  1.08 GB / 2.70 GB  45.3 MB/s  ETA 33.0 s"
    static func status(received: Int64, size: Int64, startBytes: Int64, seconds: Double, width: Int = 24) -> String {
        let fraction = size > 0 ? Double(received) / Double(size) : 1
        let filled = min(width, Int(fraction * Double(width)))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        let percent = String(printf: "%3d%%", Int(fraction * 100))
        var s = "\(bar) \(percent)  \(ByteCount.text(received)) / \(ByteCount.text(size))"
        let speed = seconds > 0.2 ? Double(received - startBytes) / seconds : 0
        if speed > 0 {
            s += "  \(rate(speed))  ETA \(ProgressPrinter.duration(Double(size - received) / speed))"
        }
        return s
    }

    private func progress(_ f: HubFile, received: Int64, size: Int64) {
        let s = Self.status(received: received, size: size, startBytes: startBytes, seconds: elapsed())
        if terminal {
            StandardStreams.writeError("\r\u{1B}[K\(s)")
            barShown = true
        } else {
            let tenth = size > 0 ? Int(received * 10 / size) : 10
            if tenth > lastTenth && tenth < 10 {
                lastTenth = tenth
                logLine("\(f.path) \(s)")
            }
        }
    }

    /// A whole line, after ending the bar being redrawn.
    private func line(_ s: String) {
        if barShown {
            StandardStreams.writeError("\n")
            barShown = false
        }
        logLine(s)
    }
}
