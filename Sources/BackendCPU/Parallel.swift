import Dispatch
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Fork-join parallelism for CPU kernels.
public enum Parallel {
    /// Worker count: the CPUs this process may run on.
    public static let threadCount: Int = max(1, System.activeProcessorCount)

    /// Runs `body(i)` for i in 0..<count, spread over the worker threads; returns when all are done.
    /// Small counts run inline.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threadCount == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // concurrentPerform wants a @Sendable closure; kernels hand us closures over raw
            // pointers whose disjoint writes are their own responsibility.
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
        }
    }

    /// Splits 0..<count into about `threadCount·chunksPerThread` contiguous ranges processed in parallel.
    @inlinable
    public static func forRanges(_ count: Int, minChunk: Int = 1, chunksPerThread: Int = 4, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let pieces = max(1, min(threadCount * chunksPerThread, count / max(minChunk, 1)))
        if pieces == 1 { body(0..<count); return }
        let size = (count + pieces - 1) / pieces
        forEach((count + size - 1) / size) { p in
            let lo = p * size
            body(lo..<min(count, lo + size))
        }
    }
}

enum System {
    static var activeProcessorCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}
