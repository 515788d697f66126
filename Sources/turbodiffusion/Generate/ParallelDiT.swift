import BackendCUDA
import Models
import Pipeline
import SystemSupport
import TensorCore

/// `--gpus N`: the DiT on CUDA devices 0..<N with sequence parallelism over NCCL (docs/multi-gpu.md).
/// Rank 0 is the DiT's placement (device 0); every rank holds the whole model.
enum ParallelDiT {
    /// Backends of devices 1..<N, opened once per process and shared by the experts (one allocator per device).
    nonisolated(unsafe) private static var opened: [Int: CUDABackend] = [:]

    /// Checks everything that can be checked before weights load: CUDA placement, device count, the
    /// head split, NCCL; returns one backend per rank.
    static func backends(_ options: GenerationOptions, rank0: any Backend, config: WanDiTConfig) throws -> [CUDABackend] {
        let n = options.gpus
        guard let first = rank0 as? CUDABackend else {
            throw GenerationCommandError("--gpus \(n) runs the DiT on CUDA devices 0..<\(n), but the DiT is placed on \(rank0.name); use --device cuda (and no --dit_device cpu)")
        }
        guard first.device.index == 0 else {
            throw GenerationCommandError("--gpus \(n): rank 0 must be CUDA device 0, the DiT is on \(first.device)")
        }
        do {
            try SequenceParallelism.validate(heads: config.numHeads, ranks: n)
        } catch {
            throw GenerationCommandError("--gpus \(n): \(error)")
        }
        let count = try CUDABackend.deviceCount()
        guard count >= n else {
            throw GenerationCommandError("--gpus \(n) needs \(n) CUDA devices; this machine has \(count)")
        }
        var out = [first]
        for index in 1..<n {
            if let b = opened[index] { out.append(b); continue }
            let b = try CUDABackend(deviceIndex: index)
            if let maxVram = options.maxVram { b.setMemoryLimit(Int(maxVram * 1_073_741_824)) }
            opened[index] = b
            out.append(b)
        }
        return out
    }

    /// The sequence-parallel model: the communicators first (NCCL is checked before gigabytes of
    /// weights load), then `load(backend)` once per rank.
    static func model(_ options: GenerationOptions, rank0: any Backend, config: WanDiTConfig,
                      load: (CUDABackend) throws -> DiTVelocityModel) throws -> SequenceParallelVelocityModel {
        let backends = try backends(options, rank0: rank0, config: config)
        let communicators: [NCCLCommunicator]
        do {
            communicators = try NCCLCommunicator.group(backends)
        } catch {
            throw GenerationCommandError("--gpus \(options.gpus): \(error)")
        }
        logLine("sequence parallel over \(backends.count) GPUs (\(backends.map(\.device.description).joined(separator: ", "))), \(NCCLCommunicator.libraryDescription()), \(config.numHeads / backends.count) heads per GPU")
        let ranks = try zip(backends, communicators).map { b, comm in
            let m = try load(b)
            return SequenceParallelVelocityModel.Rank(model: m.model, context: m.context, parallelism: SequenceParallelism(comm))
        }
        return try SequenceParallelVelocityModel(ranks: ranks, abort: { _ in communicators.forEach { $0.abort() } })
    }
}
