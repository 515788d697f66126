#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// Receives every log line as well as stderr (`webui` keeps the recent ones for its log panel).
/// Set once, before any work starts.
nonisolated(unsafe) var logObserver: ((String) -> Void)?

/// One line of progress or diagnostics on stderr.
func logLine(_ s: String) {
    StandardStreams.writeError((s + "\n"))
    logObserver?(s)
}
