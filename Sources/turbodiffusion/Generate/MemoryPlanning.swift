import BackendCPU
import BackendCUDA
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import Pipeline
import TensorCore

/// The generator's memory planner for the command line: reads the three models' architectures
/// from their files (headers only; nothing is loaded), takes the budget from --max_vram or the
/// card's free memory, prints the plan before any work starts (docs/pipeline.md, "Memory").
enum MemoryPlanning {
    /// What the planner needs besides the options; `ditConfig` when the file alone does not tell
    /// the architecture (the demo's head count).
    struct Models {
        var ditPath: String
        var ditConfig: ModelConfigFile?
        var attention: SelfAttentionKind
        var experts: Int
    }

    /// A planner for the placement, or nil when no component computes on CUDA.
    static func planner(options: GenerationOptions, placement: (textEncoder: any Backend, dit: any Backend, vae: any Backend),
                        models: Models) -> ((GenerationRequest) throws -> MemoryPlan?)? {
        guard let cuda = [placement.dit, placement.textEncoder, placement.vae].lazy.compactMap({ $0 as? CUDABackend }).first else {
            return nil
        }
        var architectures: (dit: WanDiTConfig, textEncoder: UMT5Config, vae: WanVAEConfig)?
        return { request in
            if architectures == nil { architectures = try read(options, models) }
            let a = architectures!
            let input = MemoryPlanInput(dit: a.dit, quantized: options.quantLinear, computeType: options.dtype.dtype,
                                        attention: models.attention, textEncoder: a.textEncoder, vae: a.vae,
                                        vaeType: options.vaeDtype?.dtype ?? .bf16,
                                        textEncoderOnDevice: placement.textEncoder === cuda, ditOnDevice: placement.dit === cuda,
                                        vaeOnDevice: placement.vae === cuda, keepResident: options.serve, experts: models.experts)
            let plan = try MemoryPlanner.plan(input, request: request, budget: budget(cuda, maxVram: options.maxVram))
            for line in plan.description.split(separator: "\n") { logLine(String(line)) }
            return plan
        }
    }

    static func read(_ options: GenerationOptions, _ models: Models) throws -> (WanDiTConfig, UMT5Config, WanVAEConfig) {
        func tensors(_ path: String) throws -> [NamedTensor] { try Checkpoint.open(path: path).unprefixedTensors }
        func config(_ path: String) throws -> ModelConfigFile? { try ModelConfigFile.find(for: path) }
        let dit = try WanDiTConfig.resolve(tensors: tensors(models.ditPath), config: models.ditConfig ?? config(models.ditPath))
        return (dit, try UMT5Config.resolve(tensors: tensors(options.textEncoderPath), config: config(options.textEncoderPath)),
                try WanVAEConfig.resolve(tensors: tensors(options.vaePath), config: config(options.vaePath)))
    }

    /// --max_vram when given (or what the device has, if less), else the device's free memory; both
    /// plus what this process already holds (resident models, the allocator's cache).
    static func budget(_ cuda: CUDABackend, maxVram: Double?) throws -> MemoryBudget {
        let held = cuda.memoryStatistics
        let available = try cuda.deviceMemory().free + held.live + held.cached
        let device = "free on \(cuda.device)"
        guard let maxVram else { return MemoryBudget(bytes: available, source: device) }
        let limit = Int(maxVram * 1_073_741_824)
        return limit <= available ? MemoryBudget(bytes: limit, source: String(printf: "--max_vram %g", maxVram))
                                  : MemoryBudget(bytes: available, source: String(printf: "--max_vram %g, but only this much %@", maxVram, device))
    }

    /// "12.3 GB in 2.1 s, 5.9 GB/s" for what `backend` uploaded since `uploaded` bytes, or "" on the CPU.
    static func transferRate(_ backend: any Backend, since uploaded: Int?, seconds: Double) -> String {
        guard let cuda = backend as? CUDABackend, let uploaded else { return "" }
        let bytes = Double(cuda.uploadedBytes - uploaded)
        return String(printf: ", %.2f GB uploaded at %.1f GB/s", bytes / 1e9, bytes / 1e9 / max(seconds, 1e-9))
    }
}
