import Foundation
import Testing

/// `--gpus N` and `bench sequence-parallel` (docs/multi-gpu.md) where no GPU is: the checks that
/// run before any device is opened, and the benchmark with CPU ranks (threads exchanging through
/// host memory), whose outputs must equal the one-rank output.
@Suite struct SequenceParallelCommandTests {
    @Test func benchWithCPURanksEqualsOneRank() throws {
        let r = try CLI.run(["bench", "sequence-parallel", "--device", "cpu", "--preset", "wan2.1-1.3b", "--layers", "1",
                             "--size", "512x256", "--frames", "1", "--gpus", "1,2,4", "--repeats", "1", "--dtype", "f32",
                             "--attention_type", "sla"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(r.stdout)")
        #expect(lines.first?.hasPrefix("1 CPU rank: ") == true)
        for (n, line) in zip([2, 4], lines.dropFirst()) {
            #expect(line.hasPrefix("\(n) CPU ranks: ") && line.contains("speedup"), "\(line)")
            let distance = line.split(separator: " ").last.flatMap { Double($0) }
            #expect(distance != nil && distance! <= 1e-6, "\(line)")
        }
    }

    @Test func headsThatDoNotDivideAreRefusedUpFront() throws {
        let r = try CLI.run(["bench", "sequence-parallel", "--gpus", "1,3"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("40 heads do not divide over 3; use 2, 4, 5, 8 GPUs"), "\(r.stderr)")
    }

    @Test func gpusNeedCUDA() throws {
        let r = try CLI.run(["t2v", "--prompt", "a red ball", "--gpus", "2", "--device", "cpu"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--gpus 2 runs the DiT on CUDA devices; it cannot be combined with --device cpu"), "\(r.stderr)")
        let zero = try CLI.run(["i2v", "--prompt", "a red ball", "--gpus", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--gpus must be at least 1"), "\(zero.stderr)")
    }
}
