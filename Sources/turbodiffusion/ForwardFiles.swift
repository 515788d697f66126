import ArgumentParser
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Models
import TensorCore

/// The files, device and compute type every `forward` command of a transformer takes: weights in
/// any checkpoint format, a safetensors file of inputs (the command's abstract names the tensors),
/// and a safetensors file for the result (tensor 'out').
struct ForwardFiles: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption, help: "Checkpoint file(s): .pth, .safetensors, an index.json or a directory.")
    var weights: [String]

    @Option(name: .long, help: "safetensors file holding the inputs the command names.")
    var inputs: String

    @Option(name: .long, help: "Where to write the result (safetensors, tensor 'out').")
    var output: String

    @Option(name: .long, help: "auto (CUDA when a GPU can be used, else the CPU), cuda or cpu.")
    var device: DeviceChoice = .auto

    @OptionGroup var cudaKernels: CUDAKernelOption

    @Option(name: .long, help: "Compute type: f32 (parity) or bf16 (production).")
    var dtype: ComputeType = .f32

    func validate() throws {
        guard !weights.isEmpty else { throw ValidationError("give at least one --weights file") }
    }

    /// Every tensor of the weights files, the first file's key prefix (shared by shards) removed.
    func weightTensors() throws -> [NamedTensor] {
        let checkpoints = try weights.map { try Checkpoint.open(path: $0) }
        return NamedTensor.stripping(checkpoints[0].recognition.keyPrefix, from: checkpoints.flatMap(\.tensors))
    }

    /// The weights as a store on `backend` in the compute type.
    func store(_ tensors: [NamedTensor], on backend: any Backend, linearMode: LinearMode = .dense) -> WeightStore {
        WeightStore(tensors, source: weights.joined(separator: ", "), backend: backend, matrixType: dtype.dtype, linearMode: linearMode)
    }

    /// Writes `tensor` as 'out' to --output (creating its folder).
    func writeOutput(_ tensor: Tensor) throws {
        let parent = URL(fileURLWithPath: output).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        try SafetensorsWriter.write([NamedTensor(name: "out", tensor: tensor)], to: output)
        logLine("wrote \(output)")
    }
}
