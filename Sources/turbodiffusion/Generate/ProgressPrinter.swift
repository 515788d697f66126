import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Pipeline

/// Progress on stderr: one line per stage and per step (stage, step i/n, elapsed, ETA), and a summary.
final class ProgressPrinter {
    private let quiet: Bool
    /// Seconds per finished stage, in order.
    private(set) var stageTimes: [(String, Double)] = []
    init(quiet: Bool = false) { self.quiet = quiet }

    func handle(_ p: GenerationProgress) -> ProgressAction {
        if p.stageFinished { stageTimes.append((p.stage.rawValue, p.stageElapsed)) }
        guard !quiet else { return Self.interrupted ? .cancel : .proceed }
        let clock = String(printf: "[%6.1fs]", p.elapsed)
        if p.stageFinished {
            logLine("\(clock) \(p.stage.rawValue) done in \(Self.duration(p.stageElapsed))\(Self.devicePeaks())")
        } else if p.steps > 0 && p.step > 0 {
            let eta = p.stageRemaining.map { ", ETA \(Self.duration($0))" } ?? ""
            logLine("\(clock) \(p.stage.rawValue) \(p.step)/\(p.steps) (\(Self.duration(p.stageElapsed))\(eta))")
        } else if p.step == 0 {
            for b in DeviceChoice.openedCUDA { b.resetPeakMemory() }
            logLine("\(clock) \(p.stage.rawValue)…")
        }
        return Self.interrupted ? .cancel : .proceed
    }

    /// ", peak 3.21 GiB on cuda:0" for each CUDA device in use: the most memory its tensors held
    /// during the stage (the allocator's cache is not counted).
    static func devicePeaks() -> String {
        DeviceChoice.openedCUDA.map { String(printf: ", peak %.2f GiB on %@", Double($0.memoryStatistics.peak) / 1_073_741_824, "\($0.device)") }
            .joined()
    }

    static func duration(_ s: Double) -> String {
        s < 60 ? String(printf: "%.1f s", s) : String(printf: "%d min %02d s", Int(s) / 60, Int(s) % 60)
    }

    /// Set by SIGINT (Ctrl-C) or SIGTERM (a service manager, `kill`): the generation stops at the
    /// next step and nothing is written. A second signal quits at once (128 + the signal); files
    /// being written then stay under their temporary names, never the final one.
    nonisolated(unsafe) static var interrupted = false

    static func installInterruptHandler() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { received in
                if ProgressPrinter.interrupted { _exit(128 + received) }
                ProgressPrinter.interrupted = true
            }
        }
    }
}
