import ArgumentParser
import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport
import Models
import TensorCore

/// The model set and clip `bench pipeline` runs: the released architectures at their resolution, or
/// narrow stand-ins of the same structure (`--tiny-widths`) so the command can run on a CPU in a test.
struct PipelineBenchSetup {
    /// The DiT (each expert's) architecture, text length 512.
    var dit: WanDiTConfig
    /// The text encoder (umT5-XXL).
    var text: UMT5Config
    /// The video autoencoder (Wan2.1 VAE).
    var vae: WanVAEConfig
    /// Experts run in turn: one (T2V) or two (I2V: high noise while r ≥ boundary, then low noise).
    var experts: Int
    /// Video size in pixels and frames (4n + 1).
    var width: Int, height: Int, frames: Int
    /// Tokens the text encoder runs on (all real: the worst case of a prompt).
    var textTokens: Int

    var conditioned: Bool { experts == 2 }
    var latentFrames: Int { (frames - 1) / 4 + 1 }
    var latentShape: [Int] { [vae.zDim, latentFrames, height / 8, width / 8] }
    /// Video tokens of the DiT: latent T × (H/8)/2 × (W/8)/2.
    var tokens: Int { latentFrames * (height / 16) * (width / 16) }

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case wan21_1_3b_480p = "wan2.1-1.3b-480p", wan21_14b_720p = "wan2.1-14b-720p", wan22_a14b_i2v_720p = "wan2.2-a14b-i2v-720p"
    }

    init(_ preset: Preset, tinyWidths: Bool) {
        switch preset {
        case .wan21_1_3b_480p: (dit, experts, width, height) = (.wan21T2V1_3B, 1, 832, 480)
        case .wan21_14b_720p: (dit, experts, width, height) = (.wan21T2V14B, 1, 1280, 720)
        case .wan22_a14b_i2v_720p: (dit, experts, width, height) = (.wan22I2VA14B, 2, 1280, 720)
        }
        dit.textLength = 512
        text = .umt5XXL
        vae = .wan21
        frames = 81
        textTokens = 512
        if tinyWidths {
            dit = WanDiTConfig(dim: 64, ffnDim: 128, numHeads: 2, numLayers: dit.numLayers, inChannels: dit.inChannels,
                               outChannels: dit.outChannels, textDim: 64)
            text = UMT5Config(vocabSize: 1024, dim: 64, attentionDim: 64, ffnDim: 128, numHeads: 2, numLayers: text.numLayers)
            vae = WanVAEConfig(dim: 8, zDim: 16)
        }
    }
}

/// One row of the stage table.
struct PipelineStage {
    var name: String
    var seconds: Double
    var flops: FLOPCount
    /// Most bytes live tensors held on the device during the stage (weights resident then
    /// included); nil where the backend keeps no allocator statistics (the CPU).
    var peakBytes: Int?
}

/// Times stages: the device is drained before the clock starts and after the body, and the
/// allocator's peak restarts at each stage.
struct StageClock {
    let backend: any Backend

    var cuda: CUDABackend? { backend as? CUDABackend }

    func measure<T>(_ name: String, flops: FLOPCount, _ body: () throws -> T) throws -> (T, PipelineStage) {
        try backend.synchronize()
        cuda?.resetPeakMemory()
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        try backend.synchronize()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (value, PipelineStage(name: name, seconds: seconds, flops: flops, peakBytes: cuda?.memoryStatistics.peak))
    }
}

enum PipelineBenchReport {
    /// The best median rate of a few bf16 GEMMs [m, k] × [n, k]ᵀ through the backend (cuBLASLt on
    /// CUDA), after warm-up runs: the arithmetic ceiling the stages are set against.
    static func gemmPeak(_ backend: any Backend, sizes: [(m: Int, n: Int, k: Int)]) throws -> (flops: Double, shape: String) {
        var best = (flops: 0.0, shape: "")
        var rng = SplitMixInputs(seed: 99)
        for s in sizes {
            let a = try backend.upload(Tensor.host(rng.values(s.m * s.k), shape: [s.m, s.k], dtype: .bf16))
            let b = try backend.upload(Tensor.host(rng.values(s.n * s.k), shape: [s.n, s.k], dtype: .bf16))
            for _ in 0..<3 { _ = try backend.matmul(a, b, transposeB: true, bias: nil, outputType: .bf16) }
            try backend.synchronize()
            var times: [Double] = []
            for _ in 0..<10 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try backend.matmul(a, b, transposeB: true, bias: nil, outputType: .bf16)
                try backend.synchronize()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let rate = 2 * Double(s.m) * Double(s.n) * Double(s.k) / times.sorted()[times.count / 2]
            if rate > best.flops { best = (rate, "\(s.m)×\(s.n)×\(s.k)") }
        }
        return best
    }

    /// The human table, then one `STAGE name seconds tflop peak_bytes` line per row (peak_bytes −1
    /// where unknown) for scripts; `PEAK gemm_tflops X` carries the ceiling.
    static func print(_ stages: [PipelineStage], peak: Double) {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        let total = PipelineStage(name: "total", seconds: stages.reduce(0) { $0 + $1.seconds },
                                  flops: stages.reduce(FLOPCount()) { $0 + $1.flops },
                                  peakBytes: stages.compactMap(\.peakBytes).max())
        let rows = stages + [total]
        Swift.print(pad("stage", 20) + "   seconds      TFLOP  (attention)   TFLOP/s  of peak   peak memory")
        for r in rows {
            let rate = r.seconds > 0 ? r.flops.total / r.seconds : 0
            Swift.print(pad(r.name, 20) + String(printf: " %9.3f %10.2f  (%9.2f) %9.1f %7.1f%%   %@",
                                                  r.seconds, r.flops.total / 1e12, r.flops.attention / 1e12, rate / 1e12,
                                                  peak > 0 ? 100 * rate / peak : 0, r.peakBytes.map(gib) ?? "n/a"))
        }
        Swift.print(String(printf: "PEAK gemm_tflops %.1f", peak / 1e12))
        for r in rows {
            Swift.print(String(printf: "STAGE %@ %.6f %.9g %d", r.name, r.seconds, r.flops.total / 1e12, r.peakBytes ?? -1))
        }
    }
}

/// One DiT step of `bench pipeline` split at its host/device boundaries (milliseconds), each part
/// ended by `mark`: the latent's upload, the forward, the velocity's read back, then the sampler's
/// host work (update and next noise) until the next step starts.
struct StepSplit {
    var upload = 0.0, forward = 0.0, readBack = 0.0, sampler = 0.0
    private var last = DispatchTime.now().uptimeNanoseconds

    mutating func mark(_ part: WritableKeyPath<StepSplit, Double>) {
        let now = DispatchTime.now().uptimeNanoseconds
        self[keyPath: part] += Double(now - last) / 1e6
        last = now
    }

    func line(step: Int) -> String {
        String(printf: "dit_step_%d split: upload %.1f ms, forward %.1f ms, read back %.1f ms, sampler on the host %.1f ms",
               step, upload, forward, readBack, sampler)
    }
}
