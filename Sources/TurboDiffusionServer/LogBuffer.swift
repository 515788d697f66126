#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// The most recent lines of the server's log (what it prints on stderr), for `GET /logs`.
public final class LogBuffer: @unchecked Sendable {
    private let lock = Lock()
    private var lines: [String] = []
    private var start = 0
    public let capacity: Int

    public init(capacity: Int = 2000) { self.capacity = capacity }

    public func append(_ text: String) {
        let stamp = Self.stamp()
        lock.withLock {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                let entry = "\(stamp) \(line)"
                if lines.count < capacity { lines.append(entry) } else {
                    lines[start] = entry
                    start = (start + 1) % capacity
                }
            }
        }
    }

    /// The last `n` lines, oldest first.
    public func last(_ n: Int) -> [String] {
        lock.withLock {
            let ordered = Array(lines[start...] + lines[..<start])
            return Array(ordered.suffix(max(0, n)))
        }
    }

    private static func stamp() -> String {
        formatTime(Date().timeIntervalSince1970, "%H:%M:%S", utc: true)
    }
}

/// Fan-out of job record snapshots to server-sent-event streams. A subscriber first gets the
/// record as it is, then every change; the stream finishes after a terminal state.
public final class EventHub: @unchecked Sendable {
    private let lock = Lock()
    private var subscribers: [String: [UUID: AsyncStream<JobRecord>.Continuation]] = [:]

    public init() {}

    public func subscribe(_ id: String, current: () -> JobRecord?) -> AsyncStream<JobRecord> {
        let (stream, continuation) = AsyncStream<JobRecord>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let key = UUID()
        lock.withLock {
            // Read the current state under the lock so that no change slips between it and the subscription.
            guard let now = current() else { continuation.finish(); return }
            continuation.yield(now)
            if now.status.isTerminal { continuation.finish(); return }
            subscribers[id, default: [:]][key] = continuation
        }
        continuation.onTermination = { [weak self] _ in
            self?.lock.withLock { _ = self?.subscribers[id]?.removeValue(forKey: key) }
        }
        return stream
    }

    public func publish(_ r: JobRecord) {
        let targets = lock.withLock { () -> [AsyncStream<JobRecord>.Continuation] in
            let list = Array(subscribers[r.id]?.values ?? [:].values)
            if r.status.isTerminal { subscribers[r.id] = nil }
            return list
        }
        for c in targets {
            c.yield(r)
            if r.status.isTerminal { c.finish() }
        }
    }
}
