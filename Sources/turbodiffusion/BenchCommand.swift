import ArgumentParser
import BackendCPU
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// `turbodiffusion bench …`: micro-benchmarks of backend kernels. Add kernels as subcommands.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark backend kernels.",
        subcommands: [BenchGemm.self, BenchCUDA.self, BenchConv.self, BenchDiTMemory.self, BenchDiT.self, BenchPipeline.self,
                      BenchSequenceParallel.self]
    )
}

/// The machine's single-precision FMA peak, from /proc and /sys (Linux).
struct CPUPeak {
    var cores: Int
    var gigahertz: Double
    var clockSource: String
    var flopsPerCycle: Int
    var isa: String

    var gflops: Double { Double(cores) * gigahertz * Double(flopsPerCycle) }

    var formula: String {
        String(printf: "peak = %d cores × %.3f GHz (%@) × %d FLOP/cycle (%@) = %.1f GFLOP/s",
               cores, gigahertz, clockSource, flopsPerCycle, isa, gflops)
    }

    static func detect(cores: Int) -> CPUPeak {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var ghz = 0.0, source = "unknown clock"
        if let text = try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", encoding: .utf8),
           let khz = Double(text.trimmingWhitespace()) {
            ghz = khz / 1e6
            source = "cpuinfo_max_freq"
        } else {
            // No cpufreq (typical in VMs): the highest "cpu MHz" reported.
            for line in cpuinfo.split(separator: "\n") where line.hasPrefix("cpu MHz") {
                if let v = line.split(separator: ":").last.flatMap({ Double($0.trimmingWhitespace(newlines: false)) }) {
                    ghz = max(ghz, v / 1000)
                    source = "/proc/cpuinfo cpu MHz"
                }
            }
        }
        var flags = Set<Substring>()
        if let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") || $0.hasPrefix("Features") }),
           let list = line.split(separator: ":").last {
            flags = Set(list.split(separator: " "))
        }
        // Two FMA pipes on every core we expect; FMA counts as 2 FLOP per lane.
        let (fpc, isa): (Int, String)
        if flags.contains("avx512f") {
            (fpc, isa) = (64, "AVX-512: 2 FMA × 16 lanes × 2")
        } else if flags.contains("avx2") && flags.contains("fma") {
            (fpc, isa) = (32, "AVX2+FMA: 2 FMA × 8 lanes × 2")
        } else if flags.contains("avx") {
            (fpc, isa) = (16, "AVX: 1 add + 1 mul × 8 lanes")
        } else if flags.contains("asimd") {
            (fpc, isa) = (16, "NEON: 2 FMA × 4 lanes × 2 (assumed)")
        } else {
            (fpc, isa) = (8, "SSE: 1 add + 1 mul × 4 lanes")
        }
        return CPUPeak(cores: cores, gigahertz: ghz, clockSource: source, flopsPerCycle: fpc, isa: isa)
    }
}

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Time CPUGemm.multiply (f32 accumulation) and compare with the FMA peak.",
        discussion: """
        Default shapes: f32 4096³ (B row-major) and the Wan2.1-1.3B FFN Linear layers, \
        activations f32 [32760, 1536] / [32760, 8960] times a bf16 weight W [N, K] (B = Wᵀ).
        """
    )

    @Option(name: .customLong("repeat"), help: "Timed runs per shape (after one warm-up); the median is reported.")
    var repeatCount: Int = 5

    @Option(help: "Worker threads (default: all CPUs).")
    var threads: Int?

    @Option(name: .customLong("shape"), parsing: .singleValue,
            help: "Custom M,N,K (repeatable); replaces the default shapes.")
    var shapes: [String] = []

    @Option(help: "A dtype for custom shapes (f32, bf16, f16).")
    var aDtype: String = "f32"

    @Option(help: "B dtype for custom shapes (f32, bf16, f16).")
    var bDtype: String = "f32"

    @Option(help: "B layout for custom shapes: 'rows' (B[k, n] row-major) or 'weight' (W[n, k] row-major, B = Wᵀ).")
    var bLayout: String = "rows"

    struct Case {
        var name: String
        var m: Int, n: Int, k: Int
        var aType: DType, bType: DType
        var weightLayout: Bool
    }

    func validate() throws {
        guard repeatCount >= 1 else { throw ValidationError("--repeat must be ≥ 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        guard ["rows", "weight"].contains(bLayout) else { throw ValidationError("--b-layout must be rows or weight") }
        for t in [aDtype, bDtype] {
            guard let d = DType(name: t), [.f32, .bf16, .f16].contains(d) else {
                throw ValidationError("dtype \(t): expected f32, bf16 or f16")
            }
        }
        for s in shapes {
            let parts = s.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 >= 1 }) else {
                throw ValidationError("--shape \(s): expected M,N,K (positive integers)")
            }
        }
    }

    func run() throws {
        var cases: [Case] = []
        if shapes.isEmpty {
            cases = [
                Case(name: "square", m: 4096, n: 4096, k: 4096, aType: .f32, bType: .f32, weightLayout: false),
                Case(name: "ffn.0 (up)", m: 32760, n: 8960, k: 1536, aType: .f32, bType: .bf16, weightLayout: true),
                Case(name: "ffn.2 (down)", m: 32760, n: 1536, k: 8960, aType: .f32, bType: .bf16, weightLayout: true),
            ]
        } else {
            for s in shapes {
                let p = s.split(separator: ",").compactMap { Int($0) }
                cases.append(Case(name: "custom", m: p[0], n: p[1], k: p[2], aType: DType(name: aDtype)!,
                                  bType: DType(name: bDtype)!, weightLayout: bLayout == "weight"))
            }
        }
        let workers = threads ?? Parallel.threadCount
        let peak = CPUPeak.detect(cores: min(workers, Parallel.threadCount))
        print(peak.formula)
        print("threads: \(workers), timed runs per shape: \(repeatCount) (after 1 warm-up)\n")
        let header = ["shape", "M×N×K", "A·B dtypes", "median ms", "best ms", "GFLOP/s", "% peak", "spot rel err"]
        let widths = [13, 18, 14, 10, 10, 8, 7, 12]
        print(row(header, widths))
        print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for c in cases {
            let r = measure(c, threads: workers)
            let gflops = 2 * Double(c.m) * Double(c.n) * Double(c.k) / r.median / 1e9
            print(row([
                c.name, "\(c.m)×\(c.n)×\(c.k)",
                "\(c.aType)·\(c.bType)\(c.weightLayout ? "ᵀ" : "")",
                String(printf: "%.1f", r.median * 1e3), String(printf: "%.1f", r.best * 1e3),
                String(printf: "%.1f", gflops), String(printf: "%.1f", 100 * gflops / peak.gflops),
                String(printf: "%.1e", r.spotError),
            ], widths))
        }
    }

    private func row(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).map { cell, w in
            cell.count >= w ? cell : cell + String(repeating: " ", count: w - cell.count)
        }.joined(separator: "  ")
    }

    /// Median and best wall time in seconds, and the relative error of sampled outputs.
    private func measure(_ c: Case, threads: Int) -> (median: Double, best: Double, spotError: Double) {
        var rng = UInt64(0x2545_F491_4F6C_DD1D) ^ UInt64(c.m &* 31 &+ c.n &* 17 &+ c.k)
        let a = RandomMatrix(count: c.m * c.k, dtype: c.aType, rng: &rng)
        let b = RandomMatrix(count: c.k * c.n, dtype: c.bType, rng: &rng)
        defer { a.free(); b.free() }
        let aOp = MatrixOperand(base: a.pointer, dtype: c.aType, rowStride: c.k, colStride: 1)
        let bOp = c.weightLayout
            ? MatrixOperand(base: b.pointer, dtype: c.bType, rowStride: 1, colStride: c.k)
            : MatrixOperand(base: b.pointer, dtype: c.bType, rowStride: c.n, colStride: 1)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: c.m * c.n)
        defer { out.deallocate() }
        out.initialize(repeating: .nan, count: c.m * c.n)

        func once() -> Double {
            let start = ContinuousClock.now
            CPUGemm.multiply(m: c.m, n: c.n, k: c.k, a: aOp, b: bOp, c: out, ldc: c.n, accumulate: false,
                             threads: threads)
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        _ = once()
        var times = (0..<repeatCount).map { _ in once() }
        times.sort()
        let median = times.count % 2 == 1
            ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2

        // Spot check 64 outputs against Float64 dot products.
        var num = 0.0, den = 0.0
        for _ in 0..<64 {
            let i = Int(xorshift(&rng) % UInt64(c.m)), j = Int(xorshift(&rng) % UInt64(c.n))
            var s = 0.0
            for p in 0..<c.k {
                s += Double(a.value(i * c.k + p)) * Double(b.value(c.weightLayout ? j * c.k + p : p * c.n + j))
            }
            let d = Double(out[i * c.n + j]) - s
            num += d.isNaN ? .infinity : d * d
            den += s * s
        }
        return (median, times[0], (num / max(den, .leastNonzeroMagnitude)).squareRoot())
    }
}

private func xorshift(_ s: inout UInt64) -> UInt64 {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17
    return s
}

/// Contiguous random storage in f32, bf16 or f16; values ±[0.25, 1) so none is zero.
private struct RandomMatrix {
    let pointer: UnsafeMutableRawPointer
    let dtype: DType

    init(count: Int, dtype: DType, rng: inout UInt64) {
        self.dtype = dtype
        pointer = .allocate(byteCount: max(count, 1) * dtype.byteSize, alignment: 64)
        for i in 0..<count {
            let r = xorshift(&rng)
            var v = 0.25 + Float(r >> 41) * 0x1p-23 * 0.75
            if r & 1 == 1 { v = -v }
            switch dtype {
            case .f32: pointer.assumingMemoryBound(to: Float.self)[i] = v
            case .bf16: pointer.assumingMemoryBound(to: UInt16.self)[i] = BF16.bits(v)
            default: pointer.assumingMemoryBound(to: UInt16.self)[i] = FP16.bits(v)
            }
        }
    }

    func value(_ i: Int) -> Float {
        switch dtype {
        case .f32: pointer.assumingMemoryBound(to: Float.self)[i]
        case .bf16: BF16.float(pointer.assumingMemoryBound(to: UInt16.self)[i])
        default: FP16.float(pointer.assumingMemoryBound(to: UInt16.self)[i])
        }
    }

    func free() { pointer.deallocate() }
}
