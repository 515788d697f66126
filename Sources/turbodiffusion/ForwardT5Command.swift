import ArgumentParser
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import TensorCore

/// `turbodiffusion forward t5`: the umT5 text encoder on token ids from a safetensors file.
struct ForwardT5: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "t5",
        abstract: "One umT5 encoder forward: reads ids [L] (and an optional mask [L]) from --inputs; writes out [L, dim] f32.",
        discussion: """
            Input tensors: 'ids' (integer type, [L] or [1, L]) and optionally 'mask' (same length, \
            1 = real token, 0 = padding; i64, i32, u8 or a float type; store a bool mask as uint8). \
            Without a mask every position is a real token.

            Output 'out' [L, dim] f32: the encoder's rows for the real tokens; rows past the real \
            length (the number of 1s in the mask) are zero, as Wan zero-pads the text context. \
            With the usual mask (real tokens first) only the real tokens are computed, which gives \
            the same rows as running all L positions with the mask.

            The architecture is read from the weights (umT5-XXL: models_t5_umt5-xxl-enc-bf16.pth). \
            Weights are used from the memory-mapped file in their stored type.
            """
    )

    @OptionGroup var files: ForwardFiles

    @Flag(name: .customLong("memory-stats"), help: .hidden)
    var memoryStats = false

    func run() throws {
        do {
            let sampler = memoryStats ? MemorySampler() : nil
            let backend = try files.device.makeBackend(kernels: files.cudaKernels.kernels)
            let tensors = try files.weightTensors()
            let config = try UMT5Config.resolve(tensors: tensors, config: ModelConfigFile.find(for: files.weights[0]))
            let store = files.store(tensors, on: backend)
            let encoder = try UMT5Encoder(store, config: config)
            logLine("loaded \(config) on \(backend.name)")
            for note in encoder.loadNotes { logLine("note: \(note)") }

            let io = try Checkpoint.open(path: files.inputs)
            let tokens = try TokenSequence(ids: io.tensor("ids"), mask: io["mask"])
            let length = tokens.ids.count, real = tokens.realLength
            let start = Date()
            let encoded = try backend.toHost(encoder.encode(tokens, ComputeContext(backend: backend, dtype: files.dtype.dtype)))
            let seconds = Date().timeIntervalSince(start)
            let computed = real == 0 ? 0 : (tokens.isPrefixMasked ? real : length)
            logLine(String(printf: "encode took %.2f s (%d of %d positions real, %d computed)", seconds, real, length, computed))

            // [real, dim] in the compute type -> [L, dim] f32 with zero rows after the real ones.
            let out = try Tensor.hostEmpty([length, config.dim], dtype: .f32)
            let base = try out.hostBuffer().base
            base.initializeMemory(as: UInt8.self, repeating: 0, count: out.byteCount)
            let rows = try encoded.floats()   // on the host already: widened there, whatever the device
            rows.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }

            try files.writeOutput(out)
            if let sampler {
                let peaks = sampler.takePeaks()
                sampler.stop()
                logLine("memory: peak RSS (VmHWM) \(gib(MemoryUsage.now().peakResident)); sampled peaks: anonymous \(gib(peaks.anonymous)), "
                        + "resident \(gib(peaks.resident)) (the rest of resident is the mapped checkpoint)")
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            logLine("error: \(error)")
            throw ExitCode(1)
        }
    }
}
