import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cache blocking of the GEMM (BLIS loop order). Upper bounds: the driver shrinks blocks to
/// split a dimension evenly.
///   kc: depth of one packed block. A 6×kc A micro-panel and a kc×16 B micro-panel stay in L1.
///   mc: rows of the packed A block (mc×kc floats), kept in L2 per thread.
///   nc: columns of the packed B block (kc×nc floats), shared by the threads, in L3.
struct GemmBlocking: Sendable {
    var mc: Int
    var kc: Int
    var nc: Int

    /// Tuned for Zen 3 (32 KiB L1d, 512 KiB L2 per core, 32 MiB L3); see docs/cpu-gemm.md.
    static let `default` = GemmBlocking(mc: 144, kc: 256, nc: 4096)
}

public enum CPUGemm {
    /// C[m, n] (row stride ldc, unit column stride, f32) = A[m, k] · B[k, n], or C += A·B when accumulate.
    /// Multithreaded over Parallel.threadCount; f32 accumulation. m, n or k may be 0.
    public static func multiply(m: Int, n: Int, k: Int, a: MatrixOperand, b: MatrixOperand,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        multiply(m: m, n: n, k: k, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate,
                 threads: Parallel.threadCount, blocking: .default)
    }

    /// As `multiply`, with an explicit worker count (≥ 1), e.g. for benchmarks.
    public static func multiply(m: Int, n: Int, k: Int, a: MatrixOperand, b: MatrixOperand,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int) {
        multiply(m: m, n: n, k: k, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate,
                 threads: threads, blocking: .default)
    }

    /// As `multiply`, with an explicit worker count (≥ 1) and cache blocking (tuning, tests).
    static func multiply(m: Int, n: Int, k: Int, a: MatrixOperand, b: MatrixOperand,
                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                         threads: Int, blocking: GemmBlocking) {
        multiply(m: m, n: n, k: k, a: a, bSource: b, c: c, ldc: ldc, accumulate: accumulate,
                 threads: threads, blocking: blocking)
    }

    /// The driver, generic over where B's packed panels come from: a strided matrix, or an
    /// implicit im2col that gathers convolution inputs while packing (ConvolutionPacking.swift).
    static func multiply<B: GemmBSource>(m: Int, n: Int, k: Int, a: MatrixOperand, bSource b: B,
                                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                                         threads: Int, blocking: GemmBlocking = .default) {
        precondition(m >= 0 && n >= 0 && k >= 0, "negative GEMM dimension")
        precondition(m <= 1 || ldc >= n, "ldc \(ldc) < n \(n)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let mr = GemmKernel.mr, nr = GemmKernel.nr
        let threads = max(1, threads)

        // Even splits: ceil(dim / max) blocks of nearly equal size (rounded to the micro-tile).
        let kBlocks = ceilDiv(k, blocking.kc)
        let kc = ceilDiv(k, kBlocks)
        let nBlocks = ceilDiv(n, blocking.nc)
        let nc = roundUp(ceilDiv(n, nBlocks), nr)
        var mBlocks = ceilDiv(m, blocking.mc)
        if mBlocks > 1 { mBlocks = roundUp(mBlocks, threads) }   // equal shares for the threads
        let mc = roundUp(ceilDiv(m, mBlocks), mr)
        mBlocks = ceilDiv(m, mc)

        // Packed buffers. B: one kc×nc block shared by all threads. A: one mc×kc block plus a
        // 6×16 edge scratch tile per worker. 64-byte alignment keeps panels on cache lines.
        let bCapacity = kc * nc
        let aCapacity = roundUp(mc, mr) * kc + mr * nr
        let bPack = UnsafeMutableRawPointer.allocate(byteCount: bCapacity * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: bCapacity)
        let aPacks = UnsafeMutableRawPointer.allocate(byteCount: aCapacity * 4 * threads, alignment: 64)
            .bindMemory(to: Float.self, capacity: aCapacity * threads)
        defer {
            bPack.deallocate()
            aPacks.deallocate()
        }
        let queue = WorkQueue()

        var jc = 0
        while jc < n {
            let ncCur = min(nc, n - jc)
            let panels = ceilDiv(ncCur, nr)
            // Few row blocks (small m): also split the columns so every thread gets work.
            let nChunks = mBlocks >= 2 * threads ? 1 : min(panels, ceilDiv(2 * threads, mBlocks))
            let chunkPanels = ceilDiv(panels, nChunks)
            let items = mBlocks * ceilDiv(panels, chunkPanels)
            var pc = 0
            while pc < k {
                let kcCur = min(kc, k - pc)
                let add = accumulate || pc > 0
                // Phase 1: pack the shared B block, panels split statically among the workers.
                let packShare = ceilDiv(panels, threads)
                run(threads, min(threads, panels)) { w in
                    let lo = w * packShare
                    let hi = min(panels, lo + packShare)
                    if lo < hi {
                        b.packB(p0: pc, kc: kcCur, c0: jc, nc: ncCur, panels: lo..<hi, dst: bPack)
                    }
                }
                // Phase 2: (row block, column chunk) items, pulled dynamically: a worker that is
                // slowed down (shared machine) takes fewer items.
                queue.reset(items)
                run(threads, min(threads, items)) { w in
                    let aPack = aPacks + w * aCapacity
                    let scratch = aPack + roundUp(mc, mr) * kc
                    while let item = queue.next() {
                        let ib = item / ceilDiv(panels, chunkPanels), chunk = item % ceilDiv(panels, chunkPanels)
                        let ic = ib * mc
                        let mcCur = min(mc, m - ic)
                        GemmPack.packA(a, r0: ic, mc: mcCur, p0: pc, kc: kcCur, dst: aPack)
                        let q0 = chunk * chunkPanels, q1 = min(panels, q0 + chunkPanels)
                        for q in q0..<q1 {
                            // B micro-panel q stays in L1 while the A block streams from L2.
                            let bPanel = UnsafePointer(bPack + q * kcCur * nr)
                            let col = jc + q * nr
                            let cols = min(nr, n - col)
                            var i0 = 0
                            while i0 < mcCur {
                                let rows = min(mr, mcCur - i0)
                                let aPanel = UnsafePointer(aPack + (i0 / mr) * kcCur * mr)
                                let cTile = c + (ic + i0) * ldc + col
                                if rows == mr && cols == nr {
                                    GemmKernel.full(kc: kcCur, a: aPanel, b: bPanel, c: cTile, ldc: ldc, add: add)
                                } else {
                                    GemmKernel.edge(kc: kcCur, a: aPanel, b: bPanel, c: cTile, ldc: ldc, add: add,
                                                    rows: rows, cols: cols, scratch: scratch)
                                }
                                i0 += mr
                            }
                        }
                    }
                }
                pc += kcCur
            }
            jc += ncCur
        }
    }

    /// Runs body(w) for w in 0..<count on up to `threads` workers. count ≤ threads, so each
    /// index (and its per-worker buffer) is used by one thread at a time.
    private static func run(_ threads: Int, _ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || threads == 1 {
            for w in 0..<count { body(w) }
        } else {
            Parallel.forEach(count, body)
        }
    }

    @inline(__always) static func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
    @inline(__always) static func roundUp(_ a: Int, _ b: Int) -> Int { ceilDiv(a, b) * b }
}

/// A counter handing out 0..<count once each to concurrent callers. Items are milliseconds of
/// work, so a mutex is cheap enough.
final class WorkQueue: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var nextItem = 0
    private var count = 0

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// Not thread-safe: call between parallel phases only.
    func reset(_ count: Int) {
        nextItem = 0
        self.count = count
    }

    func next() -> Int? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard nextItem < count else { return nil }
        nextItem += 1
        return nextItem - 1
    }
}
