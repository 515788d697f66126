import SystemSupport

/// One thread per rank for a collective computation (docs/multi-gpu.md).
public enum RankThreads {
    /// Marks errors that only follow from another rank's failure (`InProcessGroup.abort`,
    /// `NCCLCommunicator.abort`), so the error that started it is the one reported.
    public static let abortedMarker = "communicator group aborted"

    /// Runs `body(rank)` for rank 0..<count, each on its own thread, and returns the results in rank
    /// order. When a rank throws, `onFailure` is called at once with its error (to abort the others,
    /// which may be waiting for it in an exchange), and after every rank has returned the first error
    /// that is not an abort is rethrown.
    public static func run<T>(count: Int, onFailure: @escaping @Sendable (String) -> Void,
                              _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let box = RankResults<T>(count)
        for r in 0..<count {
            startThread(name: "rank \(r)") {
                let result = Result { try body(r) }
                if case .failure(let error) = result { onFailure("rank \(r) failed: \(error)") }
                box.finish(r, result)
            }
        }
        let results = box.wait()
        let errors = results.compactMap { r -> Error? in if case .failure(let e) = r { return e }; return nil }
        if let first = errors.first(where: { !"\($0)".contains(abortedMarker) }) ?? errors.first { throw first }
        return try results.map { try $0.get() }
    }
}

/// The ranks' results, filled by their threads.
private final class RankResults<T>: @unchecked Sendable {
    private let done = Condition()
    private var results: [Result<T, Error>?]
    private var finished = 0

    init(_ size: Int) { results = [Result<T, Error>?](repeating: nil, count: size) }

    func finish(_ rank: Int, _ result: Result<T, Error>) {
        done.withLock {
            results[rank] = result
            finished += 1
            done.broadcast()
        }
    }

    func wait() -> [Result<T, Error>] {
        done.withLock {
            while finished < results.count { done.wait() }
            return results.map { $0! }
        }
    }
}
