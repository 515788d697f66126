#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport

/// Resident-memory figures of this process from /proc/self/status (Linux), in bytes.
/// `anonymous` is memory the process owns (heap, copies); `file` is mapped file pages, which the
/// kernel can drop and re-read at will: a mapped checkpoint shows up there, not in `anonymous`.
struct MemoryUsage {
    var resident = 0, anonymous = 0, file = 0, peakResident = 0

    static func now() -> MemoryUsage {
        var m = MemoryUsage()
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return m }
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS": m.resident = kb << 10
            case "RssAnon": m.anonymous = kb << 10
            case "RssFile": m.file = kb << 10
            case "VmHWM": m.peakResident = kb << 10
            default: break
            }
        }
        return m
    }
}

/// Samples `MemoryUsage` on a background thread and keeps the peaks, so a figure reflects the
/// worst moment of a stage rather than its end.
final class MemorySampler: @unchecked Sendable {
    private let lock = Lock()
    private var peakAnonymous = 0, peakResident = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(interval: TimeInterval = 0.02) {
        startThread(name: "memory-sampler") { [self] in
            while true {
                let m = MemoryUsage.now()
                lock.lock()
                peakAnonymous = max(peakAnonymous, m.anonymous)
                peakResident = max(peakResident, m.resident)
                let go = running
                lock.unlock()
                if !go { break }
                sleepSeconds(interval)
            }
            done.signal()
        }
    }

    /// Peaks since the last reset (anonymous, resident), then starts a new window.
    func takePeaks() -> (anonymous: Int, resident: Int) {
        let m = MemoryUsage.now()
        lock.lock()
        defer { lock.unlock() }
        let r = (max(peakAnonymous, m.anonymous), max(peakResident, m.resident))
        peakAnonymous = m.anonymous
        peakResident = m.resident
        return r
    }

    func stop() {
        lock.lock()
        running = false
        lock.unlock()
        done.wait()
    }
}

func gib(_ bytes: Int) -> String { String(printf: "%.2f GiB", Double(bytes) / Double(1 << 30)) }
func mib(_ bytes: Int) -> String { String(printf: "%.0f MiB", Double(bytes) / Double(1 << 20)) }
